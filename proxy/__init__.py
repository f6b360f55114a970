"""The PostgreSQL-protocol proxy: one endpoint for clients in front of the computes."""
