"""Layer 2: what a business sells — products, offers (front-end, middle, back-end), premiums, and the ladder."""
