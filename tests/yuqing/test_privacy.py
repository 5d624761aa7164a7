"""yuqing.privacy (kept with the console tests, its only user for now)."""
from __future__ import annotations

import pytest

from yuqing.privacy import deidentify, mask_name


@pytest.mark.parametrize("raw,shown", [
    ("联系电话13812345678，请回复", "联系电话138****5678，请回复"),
    ("138 1234 5678", "138 **** 5678"),
    ("+86-13912345678", "+86-139****5678"),
    ("１３８１２３４５６７８", "１３８****５６７８"),
    ("身份证32010219900101123X", "身份证320***********123X"),
    ("旧证号320102900101123。", "旧证号320********1123。"),
    ("邮箱zhang.san@example.com联系", "邮箱z***@example.com联系"),
    ("座机 025-12345678 不是手机", "座机 025-12345678 不是手机"),
    ("订单 12345678901", "订单 12345678901"),        # 11 digits, not a mobile prefix
    ("编号 2023123456789012345678", "编号 2023123456789012345678"),  # too long for an ID
    ("", ""),
])
def test_deidentify(raw, shown):
    assert deidentify(raw) == shown


def test_deidentify_none():
    assert deidentify(None) == ""


@pytest.mark.parametrize("raw,shown", [
    ("张三丰", "张**"), ("张三", "张*"), ("李", "李*"), ("欧阳娜娜", "欧***"),
    ("网友", "网友"), ("匿名用户", "匿名用户"), ("网友8a7c3", "网友****"), ("游客1", "游客*"),
    ("zhang_san_88", "z****"), ("a@b.cn", "a***@b.cn"), ("", ""), (None, ""),
])
def test_mask_name(raw, shown):
    assert mask_name(raw) == shown
