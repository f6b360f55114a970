"""PostgreSQL frontend/backend protocol v3: message codec, authentication and the asyncio server."""
