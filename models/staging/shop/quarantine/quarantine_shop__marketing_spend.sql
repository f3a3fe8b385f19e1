{{ quarantined_rows('base_shop__marketing_spend') }}
