"""The PostgreSQL wire protocol pieces shared by the compute and the proxy: message codec, password auth."""
