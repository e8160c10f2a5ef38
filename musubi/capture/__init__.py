"""Layer 3: where contacts come from — sources and their costs, tracking links and the clicks on them."""
