"""Layer 3: the back-end-first economics of a ladder — plans, their evaluation, sensitivity and simulation."""
