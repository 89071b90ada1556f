"""People and companies (借款人): valid, unique, made-up identities drawn in proportion to reality.

Resident IDs pass GB 11643 check characters, USCCs GB 32100 and their GB 11714 organisation code;
names follow the frequency of Chinese surnames, phones the mobile prefixes in use, regions the
population of the provinces. None belongs to anybody.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable

from exchange.core.identifiers import USCC_ALPHABET, resident_id_check_char, uscc_check_char

HOME_SHARE = 0.85
"""Microloan and guarantee companies are licensed by a province and lend mostly at home."""
NEVER = 10**9
"""A month index that never comes (a borrower outside the fraud ring never stops paying)."""

# Population of the provinces (millions, rounded): borrowers are drawn in proportion.
_PROVINCE_WEIGHTS = {
    "11": 22, "12": 14, "13": 74, "14": 35, "15": 24, "21": 42, "22": 24, "23": 31, "31": 25, "32": 85,
    "33": 66, "34": 61, "35": 42, "36": 45, "37": 102, "41": 99, "42": 58, "43": 66, "44": 127, "45": 50,
    "46": 10, "50": 32, "51": 84, "52": 39, "53": 47, "54": 4, "61": 40, "62": 25, "63": 6, "64": 7, "65": 26,
}
# Surnames in rough order of frequency; the draw is Zipf-like over this order.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
             "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
_GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰建国文志海东亮成兵晨阳博凡鸿思睿子轩泽昊天哲"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英玲燕萍红梅婷雪琳晶颖慧倩洁丹莉佳欣怡悦雯璐琪瑶萱涵梦月莹蕾薇欢妍婧露彤岚媛嘉"
_TRADE_CHARS = "恒达鑫盛华泰隆兴源丰瑞祥宏昌通利嘉信诚德富安永旺茂金广博远长益和顺佳新立创汇聚鼎润晟锦辰宇航"
_INDUSTRIES = ("商贸", "贸易", "建材", "电子科技", "信息技术", "餐饮管理", "农业科技", "物流", "服装", "五金机电", "食品",
               "装饰工程", "汽车服务", "网络科技", "家具", "印刷", "包装", "机械设备", "化工", "医疗器械", "文化传媒",
               "建筑工程", "水产养殖", "酒店管理")
_MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                    "155", "156", "157", "158", "159", "166", "170", "173", "175", "176", "177", "178", "180", "181",
                    "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199")
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, the 9 characters inside a USCC


class Borrower:
    """One person or company, with the identity every lender reports for it."""

    __slots__ = ("uid", "btype", "id_type", "id_number", "name", "phone", "region", "bust")

    def __init__(self, uid: int, btype: str, id_type: str, id_number: str, name: str, phone: str, region: str):
        self.uid = uid
        self.btype = btype
        self.id_type = id_type
        self.id_number = id_number
        self.name = name
        self.phone = phone
        self.region = region
        self.bust = NEVER  # month index from which a fraud-ring member stops paying


class Identities:
    """Draws valid, unique identities: GB 11643 resident IDs, GB 32100 USCCs, passports, names, phones."""

    def __init__(self, regions: dict[str, str], oldest: dt.date, youngest: dt.date):
        self.by_province: dict[str, list[str]] = {}
        for code in regions:
            self.by_province.setdefault(code[:2], []).append(code)
        self.provinces = [p for p in _PROVINCE_WEIGHTS if p in self.by_province]
        self.province_cum = list(itertools.accumulate(_PROVINCE_WEIGHTS[p] for p in self.provinces))
        # Company names start with their county's short name (朝阳区 -> 朝阳); long autonomous names are skipped.
        self.company_places: dict[str, list[tuple[str, str]]] = {}
        for code, name in regions.items():
            if len(name) <= 4 and name[-1] in "区县市旗":
                place = name[:-1] if len(name) >= 3 else name
                self.company_places.setdefault(code[:2], []).append((code, place))
        self.surname_cum = list(itertools.accumulate(1.0 / (rank + 8) for rank in range(len(_SURNAMES))))
        self.birth_lo, self.birth_hi = oldest.toordinal(), youngest.toordinal()
        self.seen: set[str] = set()
        self.next_uid = 0

    def province(self, rng: random.Random, home: str | None) -> str:
        if home is not None and rng.random() < HOME_SHARE:
            return home
        return rng.choices(self.provinces, cum_weights=self.province_cum)[0]

    def county(self, rng: random.Random, province: str) -> str:
        return rng.choice(self.by_province[province])

    def person_name(self, rng: random.Random, male: bool) -> str:
        if rng.random() < 0.003:
            surname = rng.choice(_COMPOUND_SURNAMES)
        else:
            surname = rng.choices(_SURNAMES, cum_weights=self.surname_cum)[0]
        pool = _GIVEN_MALE if male else _GIVEN_FEMALE
        return surname + "".join(rng.choice(pool) for _ in range(2 if rng.random() < 0.65 else 1))

    def phone(self, rng: random.Random) -> str:
        return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"

    def uscc(self, rng: random.Random, entity: str, region: str) -> str:
        """`entity` is the GB 32100 second character: 1 company, 2 individual business (个体工商户)."""
        if rng.random() < 0.6:
            body = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
        else:
            body = f"{rng.randrange(10**8):08d}"
        total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True))
        org_check = {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))
        first17 = "9" + entity + region + body + org_check
        return first17 + uscc_check_char(first17)

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.seen:
                self.seen.add(value)
                return value

    def _resident_id(self, rng: random.Random, region: str, male: bool) -> str:
        birth = dt.date.fromordinal(rng.randint(self.birth_lo, self.birth_hi))
        seq = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
        first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
        return first17 + resident_id_check_char(first17)

    def borrower(self, rng: random.Random, enterprise: bool, home: str | None) -> Borrower:
        province = self.province(rng, home)
        self.next_uid += 1
        if enterprise:
            region, place = rng.choice(self.company_places[province])
            trade = "".join(rng.sample(_TRADE_CHARS, 2))
            suffix = "有限公司" if rng.random() < 0.85 else "有限责任公司"
            name = place + trade + rng.choice(_INDUSTRIES) + suffix
            number = self._unique(lambda: self.uscc(rng, "1", region))
            phone = self.phone(rng) if rng.random() < 0.7 else ""
            return Borrower(self.next_uid, "enterprise", "USCC", number, name, phone, region)
        region = self.county(rng, province)
        male = rng.random() < 0.58
        name = self.person_name(rng, male)
        if rng.random() < 0.02:
            id_type, number = "PASSPORT", self._unique(lambda: f"E{rng.randrange(10**8):08d}")
        else:
            birthplace = region if rng.random() < 0.6 else self.county(rng, self.province(rng, None))
            id_type, number = "RESIDENT_ID", self._unique(lambda: self._resident_id(rng, birthplace, male))
        phone = self.phone(rng) if rng.random() < 0.9 else ""
        return Borrower(self.next_uid, "individual", id_type, number, name, phone, region)


def name_variant(rng: random.Random, borrower: Borrower) -> str:
    """The same borrower under a slightly different name, as a second loan clerk might type it."""
    if borrower.btype == "enterprise":
        name = borrower.name
        return name.replace("有限责任公司", "有限公司") if name.endswith("有限责任公司") else name[:-4] + "有限责任公司"
    pool = _GIVEN_MALE + _GIVEN_FEMALE
    last = borrower.name[-1]
    return borrower.name[:-1] + rng.choice([c for c in pool if c != last])

