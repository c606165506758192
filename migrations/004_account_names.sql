-- '.' and '..' would make an FTPS home of data/ftp/.. : refuse them as account names.
ALTER TABLE upload_accounts DROP CONSTRAINT upload_accounts_name_check;
ALTER TABLE upload_accounts ADD CONSTRAINT upload_accounts_name_check
    CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$' AND name NOT IN ('.', '..'));
