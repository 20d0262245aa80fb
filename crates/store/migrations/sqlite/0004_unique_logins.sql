-- An employee's e-mail is their login: at most one employee per address, case-insensitively.
-- The core checks this before writing; the index closes the race between two writers.
CREATE UNIQUE INDEX catalog_3_data_login ON catalog_3_data (lower(email)) WHERE email IS NOT NULL AND email <> '';
