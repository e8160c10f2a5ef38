"""Adapters to outside services, each through its provider's official SDK. They know nothing of Musubi's
domain: the apps call them with plain values and get plain values back."""
