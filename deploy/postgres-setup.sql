-- PostgreSQL set-up for Sluis: two roles, so that the broker itself cannot alter its access log.
--
--   sluis_owner   owns the database and the schema; runs `sluis migrate`; not used by the broker.
--   sluis_broker  the broker's login (DATABASE_URL); after postgres-grants.sql it may read and
--                 write cases, but on the access log only SELECT and INSERT: no UPDATE, DELETE
--                 or TRUNCATE, on top of the append-only triggers that refuse them for everyone.
--
-- Run as a superuser:  psql -v owner_password=… -v broker_password=… -f deploy/postgres-setup.sql
-- then as the owner:   DATABASE_URL=postgres://sluis_owner:…@host/sluis sluis migrate
-- then as a superuser: psql -d sluis -f deploy/postgres-grants.sql
-- and run the broker with DATABASE_URL=postgres://sluis_broker:…@host/sluis SLUIS_MIGRATE=false.

CREATE ROLE sluis_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE sluis_broker LOGIN PASSWORD :'broker_password';
CREATE DATABASE sluis OWNER sluis_owner ENCODING 'UTF8';
REVOKE ALL ON DATABASE sluis FROM PUBLIC;
GRANT CONNECT ON DATABASE sluis TO sluis_broker;
