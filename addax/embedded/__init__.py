"""PostgreSQL and redis-server run by Addax itself when no external URL is configured."""
