"""Rate limits on what a stranger can trigger: login, token and registration attempts, and each
user's writes. DRF's throttles count in the cache that every web process shares (Redis), and
every refusal is kept, one row per limit, address or account and hour, for the admin to see.

This app sits at the bottom layer: it imports no other app of the project, so that the API, the
pages and the URLs can all use its throttles.
"""
