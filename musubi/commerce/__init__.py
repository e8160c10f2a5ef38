"""Sales: checkout, orders, payments, refunds, subscriptions (layer 4)."""
