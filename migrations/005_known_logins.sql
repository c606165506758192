-- Where each account has logged in successfully: from such an address a locked account is slowed
-- down, not refused, so guessing from elsewhere cannot lock the owner out.
CREATE TABLE known_logins (
    kind          text NOT NULL,                 -- 'user' | 'ftp'
    account       text NOT NULL,
    address       text NOT NULL,
    last_success_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX known_logins_key ON known_logins (kind, lower(account), address);
