"""A camera's side of FTPS: Python's ftplib.FTP_TLS, as a real client would use it."""

from __future__ import annotations

import ftplib
import io
import ssl


def client(port: int, user: str, password: str) -> ftplib.FTP_TLS:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
    ftp = ftplib.FTP_TLS(context=context, timeout=30)
    ftp.connect("127.0.0.1", port)
    ftp.auth()
    ftp.login(user, password)
    ftp.prot_p()
    return ftp


def upload(port: int, user: str, password: str, files: dict[str, bytes]) -> None:
    ftp = client(port, user, password)
    try:
        for name, data in files.items():
            folder, _, filename = name.rpartition("/")
            if folder:
                for part in folder.split("/"):
                    try:
                        ftp.mkd(part)
                    except ftplib.error_perm:
                        pass  # exists already
                    ftp.cwd(part)
            ftp.storbinary(f"STOR {filename}", io.BytesIO(data))
            if folder:
                ftp.cwd("/")
    finally:
        ftp.quit()
