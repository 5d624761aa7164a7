"""The demo city's posts, generated from templates with a seed.

Everything here is invented for the demo: 江宁市 and its districts, streets,
小区, schools and companies are fictional. A timeline is a list of
`DemoPost`s, each released at a time in "demo seconds" (negative: already up
when the site starts). It holds ~40 posts from the past day, then a steady
stream, a burst of complaints about one 小区's water cut, and a few posts
with watch-list words (中毒, 爆炸, 群体性).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

CITY = "江宁市"
STREETS = {
    "锦湖区": ["东关街道", "湖滨街道"], "临川区": ["白沙街道", "南门街道"],
    "北塘区": ["枫林街道", "北塘街道"], "青溪区": ["望江街道", "桃园街道"],
    "高新区": ["科创街道", "新港街道"], "云台县": ["云台镇", "石桥镇"],
}
COMMUNITIES = ["金桂花园", "阳光新城", "滨江壹号", "和平里小区", "幸福家园", "御景湾",
               "丰泽小区", "锦绣华庭", "春晖小区", "绿荫里", "明珠苑", "康乐新村"]
SCHOOLS = ["江宁市第三中学", "锦湖区实验小学", "临川区第二小学", "北塘区育才中学", "青溪区东方红小学"]
HOSPITALS = ["江宁市第一人民医院", "江宁市中医院", "北塘区人民医院", "临川区妇幼保健院"]
NURSING = ["夕阳红养老院", "康乐颐养中心", "松鹤老年公寓"]
BUSES = ["3路", "12路", "35路", "106路", "K8路"]
COMPANIES = ["江宁宏达建筑工程有限公司", "临川恒通劳务有限公司", "北塘佳美服装厂", "高新区云帆电子厂"]
SURNAMES = "李王张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
GIVEN = ["晓燕", "志强", "丽华", "建国", "海涛", "静", "磊", "婷婷", "文博", "雪梅"]
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]

#: The 小区 of the burst (utilities): its water is cut during the demo.
BURST_PLACE = ("锦湖区", "湖滨街道", "翠柳苑小区")

DEPARTMENTS = {
    "utilities": "江宁市水务集团", "housing": "市住房和城乡建设局", "education": "市教育局",
    "employment": "市人力资源和社会保障局", "healthcare": "市卫生健康委员会",
    "elderly_care": "市民政局", "environment": "市生态环境局", "land_demolition": "区房屋征收办公室",
    "transport": "市交通运输局", "prices_fees": "市发展和改革委员会", "social_security": "市民政局",
    "government_services": "市政务服务管理局", "food_safety": "市市场监督管理局",
    "public_security": "市公安局", "work_safety": "市应急管理局",
}

# (topic, title, detail) for 网民留言 complaints
COMPLAINTS = [
    ("utilities", "{community}停水{days}天了，什么时候能恢复？",
     "从{weekday}早上开始，{community}整个小区就停水了，到现在已经{days}天。物业说是市政管网维修，但是没有任何书面通知，也没有安排送水车。"),
    ("utilities", "{community}频繁停电，老人孩子受不了",
     "这个月{community}已经停电{n}次了，每次都是晚上，一停就是好几个小时。冰箱里的东西都坏了，家里老人还要用制氧机。"),
    ("utilities", "{street}燃气管道改造后一直没通气",
     "{street}燃气管道改造完工已经{n}周，我们楼到现在还没通气，每天只能用电磁炉做饭，打燃气公司电话一直说在排期。"),
    ("housing", "{community}电梯坏了一个月没人修",
     "{community}{building}号楼的电梯坏了快一个月，物业一直说在等配件。楼里很多老人住在高层，上下楼非常困难。"),
    ("housing", "{community}物业费上涨服务却变差",
     "今年物业费每平方米涨了{price}角，可是小区垃圾没人及时清运，绿化带也没人打理，业主们意见很大。"),
    ("environment", "{street}工地夜间施工噪音扰民",
     "{street}附近的工地每天晚上十一点以后还在施工，打桩声音很大，周边居民根本睡不着觉，打过{n}次热线也没有改善。"),
    ("environment", "{community}楼下烧烤店油烟噪音严重",
     "{community}楼下新开的烧烤店每天营业到凌晨两三点，油烟直接往楼上飘，喝酒划拳的声音很吵。"),
    ("employment", "{company}拖欠工资{months}个月",
     "我们在{company}干活，已经{months}个月没发工资了，老板一直拖着说工程款没到位。工人们都等着这笔钱养家。"),
    ("education", "{school}食堂饭菜质量差价格高",
     "孩子在{school}上学，回家说食堂的菜经常是凉的，分量也少，一份套餐要{price}元。希望查一查食堂的承包情况。"),
    ("education", "{school}变相强制订购教辅资料",
     "{school}老师要求每个学生都订购一套教辅资料，每套{price}元，说是自愿，其实不订不行。"),
    ("healthcare", "{hospital}挂号排队时间太长",
     "带老人去{hospital}看病，早上六点去排队，挂上号已经九点多，看完病拿药又排了一个小时。希望增加窗口或者改进预约系统。"),
    ("elderly_care", "{nursing}护理人员严重不足",
     "我母亲住在{nursing}，最近去探望发现护工明显不够，一个护工要照顾{n}位老人，老人的生活起居没人及时照料。"),
    ("land_demolition", "{street}拆迁补偿标准不公开",
     "{street}片区要拆迁了，但是补偿标准一直没有公示，不同人家谈下来的价格差别很大，希望公开补偿方案。"),
    ("transport", "{bus}公交班次太少，等车要{wait}分钟",
     "每天早上坐{bus}公交上班，经常要等{wait}分钟才来一辆，来了还挤不上去。希望高峰期能加密班次。"),
    ("prices_fees", "{community}停车费一年涨了两次",
     "{community}地面停车费今年已经涨了两次，现在每月{price}元，物业说经过业委会同意，可业主们都不知道。"),
    ("social_security", "低保申请材料被退回{n}次",
     "我家住{district}{street}，老伴生病不能工作，申请低保已经三个月了，材料被退回{n}次，每次说法都不一样。"),
    ("government_services", "{district}政务服务中心办事要跑好几趟",
     "去{district}政务服务中心办营业执照变更，窗口说要补材料，补完又说要去另一个窗口，前后跑了{n}趟还没办完。"),
    ("food_safety", "{street}夜市小吃摊卫生堪忧",
     "{street}夜市的小吃摊很多没有健康证，食材直接放在地上，炸东西的油反复使用，希望市场监管部门检查一下。"),
    ("public_security", "{community}电动车接连被盗",
     "最近{community}接连发生电动车被盗，光我们楼就丢了{n}辆，小区监控坏了也没修，报警后一直没有结果。"),
]
OPENINGS = ["我是{district}{street}{community}的居民。", "本人住在{district}{street}。",
            "反映一个问题，希望领导重视。", ""]
IMPACTS = ["已经严重影响正常生活。", "周边很多居民都有同样的反映。",
           "打过12345热线，说转给相关部门了，但一直没有下文。", ""]
CLOSINGS = ["恳请相关部门尽快处理，谢谢！", "希望有关部门重视，给群众一个说法。",
            "这个问题反映很多次了，请务必给予答复。", "盼复！"]

PRAISES = [
    ("government_services", "表扬{street}社区网格员",
     "{street}的网格员小{surname}这段时间每天上门走访独居老人，帮忙代买药品、联系维修，非常负责，特此表扬！"),
    ("healthcare", "感谢{hospital}急诊科的医护人员",
     "前几天深夜家里老人突发疾病，送到{hospital}急诊，医护人员处置及时、态度耐心，老人已经脱离危险，衷心感谢！"),
    ("transport", "为{bus}公交司机点赞",
     "今天在{bus}公交上有位乘客突然晕倒，司机师傅马上停车救助并拨打120，值得表扬。"),
    ("government_services", "{district}政务服务中心办事效率高",
     "今天到{district}政务服务中心办理不动产登记，提前在网上预约，到现场二十分钟就办完了，点赞！"),
]

NEWS = [
    ("work_safety", "neutral", "{district}开展燃气安全专项检查",
     ["近日，{district}组织住建、市场监管、消防等部门对辖区餐饮场所开展燃气安全专项检查。",
      "检查组共检查经营场所{n}家，发现并督促整改隐患{m}处，对{k}家未安装燃气泄漏报警装置的商户责令限期整改。"]),
    ("government_services", "neutral", "江宁市召开民生实事项目推进会",
     ["{date_cn}，江宁市召开民生实事项目推进会，通报今年{n}项民生实事的进展情况。",
      "会议要求各责任单位倒排工期、压实责任，确保年底前全部完成。"]),
    ("housing", "positive", "{street}老旧小区改造工程开工",
     ["{district}{street}老旧小区改造工程日前正式开工，涉及{community}等{n}个小区。",
      "改造内容包括雨污分流、外墙保温、加装电梯和停车位改造，预计年内完工。"]),
    ("employment", "neutral", "市人社局开展根治欠薪专项行动",
     ["市人力资源和社会保障局近日启动根治欠薪专项行动，重点检查工程建设领域。",
      "行动开展以来，已帮助{n}名劳动者追回工资{m}万元。劳动者遇到欠薪可拨打12345热线投诉。"]),
    ("healthcare", "positive", "{hospital}开通夜间门诊",
     ["为方便上班族就医，{hospital}自本月起开通夜间门诊，开放时间为每天18:00至21:00。",
      "夜间门诊开设内科、儿科等{n}个科室，市民可通过医院公众号预约挂号。"]),
    ("transport", "positive", "江宁市新开通{n}条公交线路",
     ["为完善城市公交网络，江宁市本月新开通{n}条公交线路，并对{bus}等线路进行优化调整。",
      "调整后，{district}{street}一带居民出行将更加便捷。"]),
    ("elderly_care", "neutral", "{district}举办养老服务政策宣讲活动",
     ["日前，{district}民政部门走进{street}社区举办养老服务政策宣讲活动。",
      "工作人员现场解读居家养老服务补贴、高龄津贴等政策，解答群众咨询{n}条。"]),
    ("food_safety", "neutral", "市市场监管局公布第{n}期食品安全抽检结果",
     ["江宁市市场监督管理局近日公布第{n}期食品安全监督抽检结果，共抽检食品{m}批次。",
      "抽检不合格的{k}批次产品已依法处置，相关经营者已被立案调查。"]),
    ("environment", "neutral", "江宁市开展夜间施工噪声专项整治",
     ["针对群众反映较多的夜间施工噪声问题，市生态环境局联合住建部门开展专项整治。",
      "对未办理夜间施工许可的{n}个工地下达整改通知，并公布了举报渠道。"]),
]

NOTICES = [
    ("utilities", "关于{street}部分区域计划停水的通知",
     ["因供水管网改造施工，定于{date_cn}8:00至20:00对{district}{street}部分区域暂停供水。",
      "请相关区域居民提前做好储水准备。给您带来的不便，敬请谅解。"]),
    ("transport", "关于{community}周边道路临时交通管制的通告",
     ["因道路施工需要，{date_cn}起对{district}{community}周边道路实施临时交通管制，为期{n}天。",
      "请过往车辆和行人按照现场指示绕行。"]),
    ("social_security", "关于开展年度低保复核工作的公告",
     ["根据有关规定，我市将于本月开展城乡低保对象年度复核工作。",
      "请低保对象配合社区工作人员做好家庭收入和财产情况核查。"]),
    ("healthcare", "江宁市城乡居民医疗保险参保缴费的通知",
     ["{year}年度城乡居民医疗保险集中缴费工作现已开始，个人缴费标准为每人每年{price}元。",
      "参保人可通过手机银行、政务服务平台或社区窗口缴费。"]),
    ("government_services", "江宁市政务服务中心延时服务的公告",
     ["为方便群众办事，市政务服务中心自{date_cn}起在工作日提供延时服务至19:00。",
      "延时期间可办理社保、公积金、不动产登记等{n}类高频事项。"]),
]

BURST_TITLES = ["翠柳苑小区又停水了！", "锦湖区翠柳苑停水一整天没人管", "翠柳苑小区停水，老人做饭都成问题",
                "翠柳苑停水到底什么时候恢复？", "翠柳苑小区停水没有任何通知", "强烈要求解决翠柳苑小区停水问题",
                "翠柳苑停水，孩子没法洗漱上学", "湖滨街道翠柳苑大面积停水"]
BURST_DETAILS = ["翠柳苑小区从今天早上开始停水，到现在一滴水都没有，物业电话打不通。",
                 "翠柳苑{building}号楼停水了，家里有瘫痪老人，没水真的没法过。",
                 "翠柳苑停水没有提前通知，很多人家连储水都没有，超市的矿泉水都被买光了。",
                 "翠柳苑小区停水已经十几个小时，水务说在抢修，却说不清什么时候恢复。",
                 "我们翠柳苑几千户居民全部停水，希望政府派送水车过来。",
                 "翠柳苑这已经是今年第三次停水了，管网老化的问题到底什么时候解决？"]

# (topic, kind, title, paragraphs): posts with watch-list words
WATCHLIST = [
    ("food_safety", "board", "{school}多名学生午饭后呕吐，疑似食物中毒",
     ["今天中午{school}有十几个学生吃完食堂午饭后出现呕吐、腹泻，已经送到{hospital}，疑似食物中毒。",
      "家长们都很着急，学校到现在没有给出说法。"]),
    ("work_safety", "board", "{street}一家餐馆发生爆炸",
     ["刚才{street}一家餐馆传出很大的爆炸声，附近楼的窗户玻璃都震碎了，现场冒着黑烟。",
      "消防车已经到了，不知道有没有人受伤。"]),
    ("employment", "board", "{company}上百名工人聚集讨薪",
     ["{company}上百名工人因为被拖欠工资聚集在公司门口讨薪，现场情绪激动。",
      "担心发展成群体性事件，希望政府尽快介入协调。"]),
]

REPLY_ACTIONS = {
    "utilities": "问题系管网（线路）老化抢修所致，抢修已经完成，目前已恢复正常供应",
    "housing": "已约谈物业服务企业，责令其限期整改，街道将跟踪督办",
    "environment": "执法人员已到现场核查，对违规行为依法立案查处",
    "employment": "劳动保障监察大队已介入调查，责令企业限期支付拖欠的工资",
    "education": "已责成学校进行整改，并将加强对食堂和收费的日常监管",
}
REPLY_GENERIC = "相关情况已转交属地街道调查处理，办理结果将及时向您反馈"


@dataclass
class DemoPost:
    id: int
    kind: str  # news | board | notice
    topic: str
    sentiment: str
    title: str
    paragraphs: list[str]
    author: str
    release: float  # demo seconds; <= 0: up before the site starts
    reads: int = 0
    reply_text: Optional[str] = None
    reply_dept: Optional[str] = None
    reply_release: Optional[float] = None  # when the official reply appears
    tags: list[str] = field(default_factory=list)


class _Writer:
    """Fills templates from the place pools with one seeded random generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def slots(self) -> dict:
        r = self.rng
        district = r.choice(list(STREETS))
        return {
            "district": district, "street": r.choice(STREETS[district]),
            "community": r.choice(COMMUNITIES), "school": r.choice(SCHOOLS),
            "hospital": r.choice(HOSPITALS), "nursing": r.choice(NURSING), "bus": r.choice(BUSES),
            "company": r.choice(COMPANIES), "surname": r.choice(SURNAMES),
            "weekday": r.choice(WEEKDAYS), "days": r.randint(2, 5), "months": r.randint(2, 8),
            "n": r.randint(3, 12), "wait": r.randint(25, 50), "m": r.randint(13, 90), "k": r.randint(1, 5),
            "price": r.choice([5, 8, 12, 15, 80, 120, 150, 380]), "building": r.randint(1, 18),
            "year": 2025, "date_cn": f"{r.randint(1, 12)}月{r.randint(1, 28)}日",
        }

    def netizen(self) -> str:
        return f"网友{self.rng.choice(SURNAMES)}**"

    def reporter(self) -> str:
        return f"记者 {self.rng.choice(SURNAMES)}{self.rng.choice(GIVEN)}"

    def complaint(self) -> tuple[str, str, list[str]]:
        topic, title, detail = self.rng.choice(COMPLAINTS)
        s = self.slots()
        body = "".join(filter(None, [self.rng.choice(OPENINGS), detail, self.rng.choice(IMPACTS)]))
        return topic, title.format(**s), [body.format(**s), self.rng.choice(CLOSINGS)]

    def reply(self, topic: str) -> tuple[str, str]:
        dept = DEPARTMENTS.get(topic, "市政务服务管理局")
        action = REPLY_ACTIONS.get(topic, REPLY_GENERIC)
        return dept, f"网友您好！您反映的问题已收悉。经{dept}核实，{action}。感谢您对我市工作的关注和支持。"


def build_timeline(seed: int = 7, *, initial: int = 40, stream_seconds: float = 1200.0,
                   interval: float = 3.5, burst_at: float = 15.0, burst_size: int = 15,
                   burst_seconds: float = 60.0, watchlist_at: tuple[float, ...] = (5.0, 200.0, 300.0)
                   ) -> list[DemoPost]:
    """The demo's posts, ordered by release time (demo seconds)."""
    rng = random.Random(seed)
    w = _Writer(rng)
    posts: list[DemoPost] = []

    def add(kind: str, topic: str, sentiment: str, title: str, paragraphs: list[str], release: float,
            tags: Optional[list[str]] = None, replied: Optional[bool] = None) -> DemoPost:
        author = w.netizen() if kind == "board" else (w.reporter() if kind == "news" else "江宁市人民政府办公室")
        post = DemoPost(id=1000 + len(posts), kind=kind, topic=topic, sentiment=sentiment, title=title,
                        paragraphs=paragraphs, author=author, release=release,
                        reads=rng.randint(50, 5000), tags=tags or [])
        if kind == "board" and sentiment == "negative":
            if replied is None:
                replied = rng.random() < 0.7
            if replied:
                post.reply_dept, post.reply_text = w.reply(topic)
                post.reply_release = release + rng.uniform(60, 300)
        posts.append(post)
        return post

    def background(release: float, news_share: float = 0.3) -> DemoPost:
        roll = rng.random()
        if roll < 0.85 - news_share - 0.1:
            topic, title, paras = w.complaint()
            return add("board", topic, "negative", title, paras, release)
        if roll < 0.85 - news_share:
            topic, title, detail = rng.choice(PRAISES)
            s = w.slots()
            return add("board", topic, "positive", title.format(**s), [detail.format(**s)], release)
        if roll < 0.85:
            topic, sentiment, title, paras = rng.choice(NEWS)
            s = w.slots()
            return add("news", topic, sentiment, title.format(**s), [p.format(**s) for p in paras], release)
        topic, title, paras = rng.choice(NOTICES)
        s = w.slots()
        return add("notice", topic, "neutral", title.format(**s), [p.format(**s) for p in paras], release)

    # the past day: spread over 24 h, oldest first; some board posts already answered
    for i in range(initial):
        release = -86400 + (i + rng.random()) * (86400 - 600) / initial
        post = background(release, news_share=0.45)
        if post.reply_release is not None and rng.random() < 0.5:
            post.reply_release = release + rng.uniform(600, 3600)
            post.reply_release = min(post.reply_release, -60)
        elif post.reply_release is not None:
            post.reply_release = rng.uniform(20, 240)

    events: list[tuple[float, str, int]] = []
    t = 5.0
    while t < stream_seconds:
        events.append((t, "background", 0))
        t += interval * rng.uniform(0.6, 1.4)
    for i in range(burst_size):
        events.append((burst_at + i * burst_seconds / max(burst_size - 1, 1) + rng.uniform(0, 2), "burst", i))
    for i, at in enumerate(watchlist_at):
        events.append((at, "watchlist", i))
    events.sort()
    district, street, community = BURST_PLACE
    for release, kind, i in events:
        if kind == "background":
            background(release)
        elif kind == "burst":
            s = w.slots()
            detail = rng.choice(BURST_DETAILS).format(**s)
            opening = f"我是{district}{street}{community}的居民。" if rng.random() < 0.5 else ""
            add("board", "utilities", "negative", BURST_TITLES[i % len(BURST_TITLES)],
                [opening + detail, rng.choice(CLOSINGS)], release, tags=["burst"],
                replied=i >= burst_size - 3)
        else:
            topic, kind_, title, paras = WATCHLIST[i % len(WATCHLIST)]
            s = w.slots()
            add(kind_, topic, "negative", title.format(**s), [p.format(**s) for p in paras], release,
                tags=["watchlist"], replied=False)
    posts.sort(key=lambda p: (p.release, p.id))
    return posts
