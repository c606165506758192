"""Where notifications leave Addax: e-mail (aiosmtplib) and Telegram (aiogram), and the templates they render."""
