"""The stateless compute node: PostgreSQL protocol in front, SQLite through a page VFS behind."""
