#!/usr/bin/env python3
"""Write N synthetic articles as JSON Lines: 8 categories, 13 regions, one a minute."""
import json
import sys
from datetime import datetime, timedelta, timezone

CATS = ["Kinh tế", "Xã hội", "Giáo dục", "Thể thao", "Sức khỏe", "Văn hóa - Giải trí",
        "Quốc phòng - An ninh", "Nông nghiệp - Nông thôn"]
REGS = ["Đức Thọ", "Hương Sơn", "Kỳ Anh", "Cẩm Xuyên", "Thạch Hà", "Nghi Xuân", "Can Lộc",
        "Hương Khê", "Vũ Quang", "Lộc Hà", "Hồng Lĩnh", "Thành phố Hà Tĩnh", "Hà Tĩnh"]
n = int(sys.argv[1])
t0 = datetime(2015, 1, 1, tzinfo=timezone(timedelta(hours=7)))
for i in range(n):
    print(json.dumps({
        "id": f"a{i:07d}",
        "title": f"Bài số {i} về {CATS[i % 8]} ở {REGS[i % 13]}",
        "summary": "Tóm tắt ngắn của bài viết, đủ dài để giống một sapo thật. " * 2,
        "body": "Đoạn một của bài viết.\n\nĐoạn hai của bài viết, có dấu & và <thẻ>.",
        "authors": ["Thu Hà"],
        "categories": [CATS[i % 8]],
        "regions": [REGS[i % 13]],
        "published": (t0 + timedelta(minutes=i)).isoformat(),
    }, ensure_ascii=False))
