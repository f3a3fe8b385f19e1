{{ quarantined_rows('base_shop__products') }}
