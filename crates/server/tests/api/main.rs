//! Black-box HTTP tests: each test starts the real server on a free loopback port with a fresh
//! data folder (or a fresh PostgreSQL schema when `KARTOTEKA_TEST_DATABASE_URL` is set) and
//! talks to it as a client would, with the JSON the docs show.

mod support;

mod aggregate;
mod auth;
mod automation;
mod binary;
mod catalogs;
mod convert;
mod errors;
mod events;
mod exchange;
mod fields;
mod files;
mod filters;
mod history;
mod lookups;
mod messages;
mod mssql;
mod records;
mod rights;
mod s3;
mod scenarios;
mod sections;
mod sql_tls;
mod system;
mod views;
mod webhooks;
