"""Education: templates, sequences, broadcasts, deliveries, tracking and replies (layer 5)."""
