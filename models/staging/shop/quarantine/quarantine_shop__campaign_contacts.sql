{{ quarantined_rows('base_shop__campaign_contacts') }}
