"""The topic taxonomy of DESIGN.md: stable codes, Chinese names for the UI."""
from __future__ import annotations

TOPICS: dict[str, str] = {
    "education": "教育",
    "healthcare": "医疗卫生",
    "housing": "住房保障/物业/房产",
    "food_safety": "食品安全",
    "work_safety": "安全生产",
    "elderly_care": "养老服务",
    "environment": "生态环境/污染/噪声",
    "land_demolition": "征地拆迁",
    "prices_fees": "价格收费",
    "fiscal": "财政预决算/三公经费",
    "procurement": "招投标/公共资源交易",
    "employment": "就业/欠薪/劳动",
    "social_security": "社保/低保/救助",
    "transport": "交通出行",
    "public_security": "社会治安",
    "utilities": "供水/供电/供气/供热",
    "government_services": "政务服务/办事",
    "other": "其他",
}

#: the livelihood codes (all but "other")
LIVELIHOOD = [c for c in TOPICS if c != "other"]

SENTIMENTS: dict[str, str] = {"negative": "负面", "neutral": "中性", "positive": "正面"}

SOURCE_TYPES: dict[str, str] = {
    "news": "新闻网站", "board": "网民留言", "social": "社交媒体", "feed": "订阅源", "import": "导入",
}


def topic_name(code: str | None) -> str:
    return TOPICS.get(code or "", code or "")
