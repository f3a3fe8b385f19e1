{{ quarantined_rows('base_shop__refunds') }}
