{{ quarantined_rows('base_shop__order_items') }}
