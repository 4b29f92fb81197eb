#!/usr/bin/env python3
"""Deterministic synthetic newspaper corpus for the benchmarks, as JSON Lines.

    bench/corpus.py N [--start K] [--jobs J] > corpus.jsonl

writes articles K..N-1, one JSON object a line. Article i is a pure function
of i: every record draws from its own PRNG seeded with i, and the word and
sentence pools are built once from a fixed seed. So the 10k corpus is the
first 10,000 lines of the 1M one, and two runs give the same bytes.

The shape follows the sample publication (feeds/, the seed article): 12
categories and 15 regions with Vietnamese names (Hà Tĩnh's districts and
towns), 1-2 categories and 0-2 regions an article, ~300 authors, titles and
summaries of Vietnamese words, bodies of about 3.3 KB (plain paragraphs for
most, sanitizable HTML with links, lists and an occasional <img> for some),
a lead image for some. Article 0 is the newest, published at a fixed instant
(T0, never "now", so the corpus does not change with the day it is made);
article i is about 5 minutes older than article i-1, so a million articles
span ten years. A few carry an `updated` date.

Other bench scripts import this module: `article(i)` is one record as a dict,
`CATEGORIES` and `REGIONS` the names.
"""

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

# Newest article's instant. In the past on purpose: an article published in
# the future is "scheduled" and out of every feed.
TZ = timezone(timedelta(hours=7))
T0 = int(datetime(2025, 1, 1, 6, 0, 0, tzinfo=TZ).timestamp())
# 1M articles × 315 s ≈ 10 years.
GAP_S = 315

CATEGORIES = [
    # (name, weight): the desk mix of a provincial paper
    ("Chính trị", 10), ("Kinh tế", 12), ("Xã hội", 14), ("Giáo dục", 7),
    ("Thể thao", 6), ("Sức khỏe", 6), ("Văn hóa - Giải trí", 7),
    ("Quốc phòng - An ninh", 6), ("Nông nghiệp - Nông thôn", 10),
    ("Pháp luật", 8), ("Du lịch", 4), ("Khoa học - Công nghệ", 4),
]
REGIONS = [
    ("Hà Tĩnh", 16), ("Thành phố Hà Tĩnh", 10), ("Hồng Lĩnh", 5), ("Kỳ Anh", 7),
    ("Thị xã Kỳ Anh", 5), ("Đức Thọ", 6), ("Hương Sơn", 6), ("Vũ Quang", 4),
    ("Hương Khê", 6), ("Can Lộc", 6), ("Lộc Hà", 5), ("Nghi Xuân", 6),
    ("Thạch Hà", 7), ("Cẩm Xuyên", 7), ("Vũng Áng", 3),
]

# Words of Vietnamese news copy (syllables and compounds), most frequent first.
WORDS = """
và của các những trong được cho với là có đã người tỉnh huyện xã năm ngày tháng
này đó để khi từ theo tại trên đến về cùng nhiều hơn một hai ba việc công tác
triển khai thực hiện kế hoạch nhiệm vụ kết quả đánh giá tình hình phát triển kinh tế
xã hội nhân dân bà con cán bộ đảng viên chính quyền địa phương lãnh đạo sở ban ngành
đoàn thể mặt trận tổ quốc hội nghị họp báo cáo đề xuất giải pháp tăng cường phối hợp
kiểm tra giám sát chỉ đạo quyết định chương trình dự án đầu tư xây dựng nông thôn mới
đường giao thông cầu cống kênh mương thủy lợi sản xuất lúa ngô lạc rau màu cam bưởi
chăn nuôi gia súc gia cầm lợn bò hươu tôm cá thủy sản khai thác đánh bắt biển
doanh nghiệp hợp tác xã thương mại dịch vụ du lịch khách sạn nhà hàng lễ hội di tích
văn hóa truyền thống nghệ thuật dân ca ví giặm văn nghệ thể thao bóng đá giải đấu
học sinh sinh viên giáo viên nhà trường lớp học thi tốt nghiệp tuyển sinh khuyến học
bệnh viện trạm y tế bác sĩ bệnh nhân tiêm chủng vắc xin phòng chống dịch bệnh
công an biên phòng quân sự dân quân an ninh trật tự tội phạm ma túy vi phạm xử lý
pháp luật tòa án xét xử bị cáo vụ án điều tra khởi tố bắt giữ tang vật
mưa lũ bão ngập úng thiên tai khắc phục hậu quả cứu hộ cứu nạn sạt lở hạn hán
môi trường rác thải nước sạch điện lưới năng lượng tái tạo khu kinh tế cảng biển
nhà máy công nghiệp lao động việc làm thu nhập hộ nghèo an sinh hỗ trợ chính sách
người có công thương binh liệt sĩ gia đình trẻ em phụ nữ thanh niên người cao tuổi
khoa học công nghệ chuyển đổi số ứng dụng phần mềm trực tuyến dữ liệu hạ tầng
tiến độ chất lượng hiệu quả bền vững tích cực kịp thời nghiêm túc chặt chẽ đồng bộ
quan trọng cấp bách thường xuyên lâu dài mục tiêu chỉ tiêu ngân sách nguồn vốn
tỷ đồng triệu đồng hecta tấn ki lô mét phần trăm bình quân tổng cộng so với cùng kỳ
đồng chí phó chủ tịch ủy ban bí thư giám đốc trưởng phòng chủ nhiệm trưởng thôn
thôn xóm tổ dân phố phường thị trấn thị xã thành phố vùng miền núi ven biển
đồng ruộng cánh đồng vườn đồi rừng trồng rừng bảo vệ phát quang mùa vụ thu hoạch
đón nhận trao tặng khen thưởng biểu dương tuyên truyền vận động hưởng ứng tham gia
ngày càng vẫn còn đang sẽ chưa đều rất khá cũng như vậy tuy nhiên bên cạnh đó
ngoài ra đặc biệt nhất là trước mắt thời gian tới những năm qua hiện nay
""".split()

SURNAMES = "Nguyễn Trần Lê Phạm Hoàng Phan Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Thái".split()
MIDDLES = "Văn Thị Hữu Đức Ngọc Thanh Xuân Minh Thu Quang Hồng Thế Anh Kim Bảo".split()
GIVENS = """Hà Giang Liệu Loan Sơn Tùng Hương Lan Hùng Dũng Thành Nam Hải Phương Trang
Linh Huyền Tâm Tuấn Vinh Long Hiếu Trung Nga Yến Thảo Quỳnh Châu Đạt Khánh""".split()


def _pools():
    """Authors and a sentence pool, from a fixed seed (constant data)."""
    r = random.Random(20250101)
    authors = set()
    while len(authors) < 300:
        if r.random() < 0.6:  # bylines are mostly a pen name of two words
            authors.add(f"{r.choice(MIDDLES)} {r.choice(GIVENS)}")
        else:
            authors.add(f"{r.choice(SURNAMES)} {r.choice(MIDDLES)} {r.choice(GIVENS)}")
    authors = sorted(authors)
    # Zipf-like word frequencies: news copy repeats its function words.
    weights = [1.0 / (k + 8) for k in range(len(WORDS))]
    places = [n for n, _ in REGIONS]
    sentences = []
    for _ in range(20000):
        words = r.choices(WORDS, weights, k=r.randint(10, 30))
        if r.random() < 0.25:
            words.insert(r.randrange(len(words)), r.choice(places))
        if r.random() < 0.2:
            words.insert(r.randrange(len(words)),
                         r.choice([f"{r.randint(2, 98)}%", f"{r.randint(1, 950)} tỷ đồng",
                                   f"{r.randint(1, 31)}/{r.randint(1, 12)}",
                                   f"{r.randint(10, 9000):,}".replace(",", "."), "NN&PTNT",
                                   "KT-XH", f"< {r.randint(2, 20)} tấn"]))
        if len(words) > 14 and r.random() < 0.4:
            words[r.randrange(4, len(words) - 4)] += ","
        s = " ".join(words)
        sentences.append(s[0].upper() + s[1:] + ".")
    return authors, sentences, weights


AUTHORS, SENTENCES, _WEIGHTS = _pools()
_CAT_NAMES = [n for n, _ in CATEGORIES]
_CAT_CUM = [sum(w for _, w in CATEGORIES[: k + 1]) for k in range(len(CATEGORIES))]
_REG_NAMES = [n for n, _ in REGIONS]
_REG_CUM = [sum(w for _, w in REGIONS[: k + 1]) for k in range(len(REGIONS))]
_WORD_CUM = [sum(_WEIGHTS[: k + 1]) for k in range(len(WORDS))]
_SENT_BYTES = [len(s.encode()) + 1 for s in SENTENCES]


def _distinct(r, names, cum, k):
    out = []
    while len(out) < k:
        n = r.choices(names, cum_weights=cum)[0]
        if n not in out:
            out.append(n)
    return out


def _paragraphs(r, target_bytes):
    """Paragraphs of 2-5 pool sentences until about `target_bytes`."""
    paras, size = [], 0
    n_sent = len(SENTENCES)
    while size < target_bytes:
        idx = [r.randrange(n_sent) for _ in range(r.randint(2, 5))]
        paras.append(" ".join(SENTENCES[j] for j in idx))
        size += sum(_SENT_BYTES[j] for j in idx) + 1
    return paras


def iso(ts):
    """RFC 3339 in +07:00, whole seconds."""
    return datetime.fromtimestamp(ts, TZ).isoformat()


def article(i, published_ts=None, id_=None):
    """Record i as a dict. `published_ts`/`id_` override the date and id
    (the benchmarks' fresh writes reuse the shape with a current date)."""
    r = random.Random(i)
    ts = T0 - i * GAP_S - r.randrange(GAP_S - 15) if published_ts is None else published_ts
    title = " ".join(r.choices(WORDS, cum_weights=_WORD_CUM, k=r.randint(7, 15)))
    if r.random() < 0.5:
        title += " " + r.choice(_REG_NAMES)
    rec = {
        "id": id_ or f"bt-{i:07d}",
        "title": title[0].upper() + title[1:],
        "summary": " ".join(r.choice(SENTENCES) for _ in range(r.randint(1, 2))),
    }
    paras = _paragraphs(r, r.randint(1900, 4000))
    kind = r.random()
    if kind < 0.2:
        # HTML from the CMS editor: links, a list, sometimes an inline image.
        parts = []
        for k, p in enumerate(paras):
            if k == 1:
                cut = p.find(" ", 20) + 1 or len(p)
                p = (f'{p[:cut]}<a href="https://baohatinh.example/tin/{i}-{k}.html">'
                     f"{p[cut:cut + 40]}</a>{p[cut + 40:]}")
            if k == 2 and r.random() < 0.5:
                items = "".join(f"<li>{r.choice(SENTENCES)}</li>" for _ in range(r.randint(2, 4)))
                parts.append(f"<ul>{items}</ul>")
            if k == 3 and r.random() < 0.3:
                parts.append(f'<figure><img src="https://baohatinh.example/images/{i}-{k}.jpg" '
                             f'alt="{r.choice(_REG_NAMES)}"><figcaption>{r.choice(SENTENCES)}'
                             "</figcaption></figure>")
            if r.random() < 0.15:
                p = f"<strong>{p}</strong>"
            parts.append(f"<p>{p}</p>")
        rec["content_html"] = "\n".join(parts)
    else:
        rec["body"] = "\n\n".join(paras)
    rec["authors"] = r.sample(AUTHORS, 1 if r.random() < 0.8 else 2)
    rec["categories"] = _distinct(r, _CAT_NAMES, _CAT_CUM, 1 if r.random() < 0.65 else 2)
    x = r.random()
    rec["regions"] = _distinct(r, _REG_NAMES, _REG_CUM, 0 if x < 0.3 else 1 if x < 0.85 else 2)
    rec["published"] = iso(ts)
    if r.random() < 0.03:
        rec["updated"] = iso(ts + r.randint(600, 3 * 86400))
    if r.random() < 0.35:
        rec["image"] = f"https://baohatinh.example/images/{datetime.fromtimestamp(ts, TZ):%Y/%m}/{i}.jpg"
    return rec


def line(i):
    return json.dumps(article(i), ensure_ascii=False)


def _chunk(bounds):
    a, b = bounds
    return "".join(line(i) + "\n" for i in range(a, b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="write articles up to N-1")
    ap.add_argument("--start", type=int, default=0, help="first article (default 0)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (output is the same)")
    args = ap.parse_args()
    out = sys.stdout
    step = 2000
    chunks = [(a, min(a + step, args.n)) for a in range(args.start, args.n, step)]
    if args.jobs > 1:
        import multiprocessing
        with multiprocessing.Pool(args.jobs) as pool:
            for text in pool.imap(_chunk, chunks):  # imap keeps the order
                out.write(text)
    else:
        for c in chunks:
            out.write(_chunk(c))
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # `| head` is fine
        sys.stderr.close()
