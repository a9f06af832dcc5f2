-- Database and owner role for Sluis. Replace the password before running (psql -f …).
CREATE ROLE sluis LOGIN PASSWORD 'change-me';
CREATE DATABASE sluis OWNER sluis ENCODING 'UTF8';
REVOKE ALL ON DATABASE sluis FROM PUBLIC;
