"""Daily status reports shaped like those of CAMERAS.md, shared by the parser and ingestor tests."""

WILLFINE = """IMEI:861234567890123
CSQ:15
Temp:24℃
Battery:60%
SD:59405M/59628M
GPS:52.098737,5.125504
Total:8932
Send:8900
Date:05/12/2025 15:46:47
"""

SWIFT_ENDURO = """IMEI:861234567890124
CamID:
CSQ:22
Temp:21 Celsius Degree
Battery:100%
SD:14.5GB/29.7GB
GPS:S32*56'06" E117*09'36"
Total Pics:120
Send times:118
Date:05/12/2025  15:46:47
"""
