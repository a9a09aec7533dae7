"""Shared by every app and importing none: domain errors and the API's handler for them,
/healthz, the Redis client, and the transactional outbox (its abstract model and its
claim/lease/sweep logic)."""
