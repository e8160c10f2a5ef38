"""Musubi (結び): the front-end → back-end sales system."""
