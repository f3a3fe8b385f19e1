{{ quarantined_rows('base_shop__orders') }}
