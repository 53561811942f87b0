#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The scan benchmark's inputs, made deterministically from a fixed seed: a >= 100 MB chat corpus
# and lexicons of 1k, 10k and 100k words. Cached: a rerun with the same inputs does nothing.
"""usage: gen_data.py --out DIR [--shared DIR] [--mb N] [--seed N]

Writes DIR/corpus.txt (one chat message a line), DIR/lex-1k.txt, lex-10k.txt, lex-100k.txt
(one literal a line, valid workphone lexicons and valid `grep -F -f` pattern files) and
DIR/info.txt (how they were made, shown in the benchmark's report).

Corpus: real chat lines (../shared/data/corpora/*.txt: CDial-GPT social media turns and
OpenSubtitles lines) mixed with generated sales conversation (names, phone numbers, products,
prices, times, emoji), a small share of which carries a compliance violation, often spelled to
evade (spaces, traditional characters, full-width letters), or personal data (ID card, bank
card, e-mail). Without the shared folder the corpus is generated text only, and info.txt says so.

Lexicons: words sampled from ../shared/data/lexicons/houbb-sensitive-word-v20240407.txt
(65,143 words); 100k extends it with deterministic combinations of two words' pieces.
Without the shared folder the benchmark cannot run its lexicon sizes: this script fails.
"""

import argparse
import hashlib
import os
import random
import sys

SALT = 'workphone-bench-scan-1'  # bump to invalidate caches when the recipe changes

SURNAMES = ('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈'
            '姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤')
GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞斌宇浩凯健俊帆帅旭宁欣怡佳琪雪梅晨阳晓婷倩颖'
HONORIFICS = ['女士', '先生', '总', '姐', '哥', '经理', '老师', '阿姨', '叔', '小姐']
COMPANIES = ['安居地产', '链家', '我爱我家', '平安保险', '中国人寿', '太平洋保险', '新东方', '学而思',
             '华图教育', '瑞尔齿科', '美年大健康', '招商银行', '工商银行', '中信证券', '华泰证券',
             '万科物业', '德佑', '泰康', '友邦', '粉笔教育']
PRODUCTS = [
    '两室一厅', '三居室', '学区房', '89平的小三房', '地铁口的公寓', '精装修的次新房', '140平的大平层',
    '重疾险', '年金险', '百万医疗险', '少儿教育金', '增额终身寿', '意外险', '养老年金',
    '考研全程班', '雅思一对一', '少儿编程课', '公务员面试班', '会计初级职称班', '英语口语课',
    '种植牙', '洁牙套餐', '全身体检套餐', '正畸方案', '光子嫩肤', '儿童近视防控',
    '大额存单', '稳健理财产品', '基金定投', '信用卡分期', '国债逆回购', '养老理财', '经营贷',
]
PLACES = ['望京', '回龙观', '张江', '前滩', '南山科技园', '天河北', '光谷', '高新区', '西湖区', '河西',
          '浦东', '朝阳公园', '五道口', '徐家汇', '城东', '滨江', '大学城', '火车站旁边']
TIMES = ['明天下午3点', '周六上午10点半', '今晚8点', '后天上午', '这周末', '下周一', '11月25日',
         '月底之前', '中午12点', '下班以后', '周日下午两点', '今天下午', '明早9:30', '下周三晚上']
EMOJI = ['', '', '', '', '😊', '👍', '🙏', '🌹', '[微笑]', '[抱拳]', '~', '！', '哈哈', '😂']

# Violations as they are typed, evasions included; matched by data/lexicon/default.txt.
VIOLATIONS = [
    '这单可以飞单给你', '飞 单也行', '走飛單', '我们私下交易', '私下转账给我就行', '直接转到我个人账户',
    '不走公司', '别让公司知道', '保本保息', '保-本-保-息', '稳赚不赔', '零风险', '保证收益',
    '年化保证回报8%', '亏了算我的', '加我私人微信', '加我ＶＸ', '加我vx聊', '我私人电话发你',
    '给你返5个点', '返佣给你个人', '有好处费', '回扣少不了你', '离职后直接找我', '带走客户',
    '马上停售了', '不用健康告知', '内幕消息', '代客理财', '包治好', '根治不复发', '治愈率98%',
    '保过班', '保证录取', '首付贷', '做低网签价', '假离婚', '帮你代签', '信用卡套现', '傻逼',
]

TEMPLATES = [
    '{name}您好，我是{company}的小{sur}，{product}这周有活动，{price}，您{time}方便吗？{emoji}',
    '{name}，{place}那套{product}业主降价了，现在{price}，{time}带您去看看？',
    '好的{name}，资料我发您了，有问题随时联系我{emoji}',
    '{name}您好，您预约的{product}改到{time}了，地址在{place}，到了打我电话{phone}',
    '收到，合同我{time}带过去，您把身份证和银行卡准备一下',
    '这款{product}{price}，比上个月便宜了不少{emoji}',
    '{name}考虑得怎么样了？{product}名额不多了',
    '我们{company}在{place}有门店，{time}过来我给您详细讲讲',
    '您孩子多大了？{product}现在报名送两节体验课{emoji}',
    '嗯嗯，那我{time}再联系您，{name}先忙{emoji}',
    '您的{product}已经办好了，{price}，发票{time}寄出',
    '{name}您好，客服电话{phone}，工作日9点到18点',
    '麻烦{name}把{product}的材料拍照发我一下，谢谢',
    '{name}，首付{pct}，月供大概{money}，{time}我把方案发您',
    '年化参考{rate}，历史业绩不代表未来表现，您看一下风险提示',
    '好的好的，收到{emoji}',
    '在吗{name}？',
    '{name}，{product}的体检报告出来了，{time}来拿一下',
    '您好，请问是{name}吗？我是{company}的{sur}经理',
    '价格是{price}，可以分12期，每期{money}',
]


def phone(rng):
    p = rng.choice(['138', '139', '135', '136', '137', '150', '151', '152', '158', '159',
                    '182', '183', '187', '188', '130', '131', '132', '155', '156', '185',
                    '186', '133', '153', '180', '189', '177', '199', '166']) + \
        '%08d' % rng.randrange(100000000)
    style = rng.randrange(10)
    if style == 0:
        return p[:3] + ' ' + p[3:7] + ' ' + p[7:]
    if style == 1:
        return p[:3] + '-' + p[3:7] + '-' + p[7:]
    return p


def id_card(rng):
    body = '%06d%04d%02d%02d%03d' % (rng.choice([110105, 310104, 440305, 330106, 510107]),
                                     rng.randrange(1950, 2005), rng.randrange(1, 13),
                                     rng.randrange(1, 29), rng.randrange(1000))
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(int(c) * w for c, w in zip(body, weights)) % 11
    return body + '10X98765432'[s]


def bank_card(rng):
    digits = [int(c) for c in rng.choice(['622202', '621700', '622848', '622588', '625911'])]
    digits += [rng.randrange(10) for _ in range(rng.choice([10, 12]))]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit to the right
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    digits.append((10 - total % 10) % 10)
    return ''.join(map(str, digits))


def name(rng):
    r = rng.randrange(3)
    if r == 0:
        return rng.choice(SURNAMES) + rng.choice(HONORIFICS)
    if r == 1:
        return rng.choice(SURNAMES) + rng.choice(GIVEN)
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def price(rng):
    r = rng.randrange(5)
    if r == 0:
        return '总价%d万' % rng.randrange(80, 1500)
    if r == 1:
        return '每年%d元' % rng.randrange(300, 30000)
    if r == 2:
        return '¥%d' % rng.randrange(99, 19999)
    if r == 3:
        return '%d,%03d元' % (rng.randrange(1, 99), rng.randrange(1000))
    return '%d元起' % rng.randrange(50, 5000)


def sales_line(rng):
    t = rng.choice(TEMPLATES)
    line = t.format(
        name=name(rng), company=rng.choice(COMPANIES), sur=rng.choice(SURNAMES),
        product=rng.choice(PRODUCTS), price=price(rng), time=rng.choice(TIMES),
        emoji=rng.choice(EMOJI), place=rng.choice(PLACES), phone=phone(rng),
        pct='%d%%' % rng.choice([15, 20, 25, 30, 35]), money='%d元' % rng.randrange(800, 30000),
        rate='%.2f%%' % (rng.randrange(150, 450) / 100))
    r = rng.random()
    if r < 0.015:
        cut = rng.randrange(len(line) + 1)
        line = line[:cut] + '，' + rng.choice(VIOLATIONS) + '，' + line[cut:]
    elif r < 0.020:
        line += '，身份证' + id_card(rng)
    elif r < 0.025:
        line += '，卡号' + bank_card(rng)
    elif r < 0.030:
        line += '，邮箱%s%d@%s' % (rng.choice(['wang', 'li.na', 'zhang_w', 'chen']),
                                 rng.randrange(1000),
                                 rng.choice(['qq.com', '163.com', 'example.cn']))
    return line


def read_lines(path):
    with open(path, encoding='utf-8') as f:
        return [line.rstrip('\n') for line in f if line.strip()]


def make_corpus(path, real, target_bytes, rng):
    """Write lines until target_bytes; return (lines, real lines, generated lines)."""
    n = nreal = 0
    size = 0
    share_real = 0.5 if real else 0.0
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        buf = []
        while size < target_bytes:
            if rng.random() < share_real:
                line = rng.choice(real)
                nreal += 1
            else:
                line = sales_line(rng)
            buf.append(line)
            size += len(line.encode('utf-8')) + 1
            n += 1
            if len(buf) >= 10000:
                f.write('\n'.join(buf) + '\n')
                buf.clear()
        if buf:
            f.write('\n'.join(buf) + '\n')
    return n, nreal, n - nreal


def usable(word):
    """A word every engine reads the same way: no TAB or line break, nothing the lexicon
    format reads as a comment, a regex or an allow entry, and at least one letter, digit or
    CJK character (a word of symbols only is all noise once normalized)."""
    if not word or word != word.strip() or '\t' in word or '\r' in word:
        return False
    if word.startswith(('#', 're:', 'allow:')):
        return False
    return any(ch.isalnum() for ch in word)


def make_lexicons(out, words, rng):
    base = sorted(set(w for w in words if usable(w)))
    sizes = {}
    pick = rng.sample(base, 1000)
    sizes['1k'] = pick
    sizes['10k'] = rng.sample(base, 10000)
    big = list(base)
    seen = set(big)
    while len(big) < 100000:
        a, b = rng.choice(base), rng.choice(base)
        cut = rng.randrange(1, min(3, len(b)) + 1)
        w = a + b[:cut]
        if w not in seen and usable(w):
            seen.add(w)
            big.append(w)
    rng.shuffle(big)
    sizes['100k'] = big
    for k, ws in sizes.items():
        with open(os.path.join(out, 'lex-%s.txt' % k), 'w', encoding='utf-8', newline='\n') as f:
            f.write('\n'.join(ws) + '\n')
    return len(base), {k: len(v) for k, v in sizes.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--shared', default=os.path.join(os.path.dirname(__file__),
                                                     '../../../shared/data'))
    ap.add_argument('--mb', type=int, default=100, help='corpus size in MiB (default 100)')
    ap.add_argument('--seed', type=int, default=20261122)
    args = ap.parse_args()

    corpora = os.path.join(args.shared, 'corpora')
    lexfile = os.path.join(args.shared, 'lexicons', 'houbb-sensitive-word-v20240407.txt')
    sources = sorted(os.path.join(corpora, n) for n in os.listdir(corpora)
                     if n.endswith('.txt')) if os.path.isdir(corpora) else []
    if not os.path.isfile(lexfile):
        sys.exit('gen_data.py: %s is missing: the lexicon sizes need it' % lexfile)

    key = hashlib.sha256()
    key.update(('%s %d %d\n' % (SALT, args.mb, args.seed)).encode())
    with open(__file__, 'rb') as f:
        key.update(f.read())
    for p in sources + [lexfile]:
        key.update(('%s %d\n' % (os.path.basename(p), os.path.getsize(p))).encode())
    stamp = os.path.join(args.out, 'stamp')
    digest = key.hexdigest()
    if os.path.isfile(stamp) and open(stamp).read().strip() == digest:
        print('gen_data.py: %s is up to date' % args.out, file=sys.stderr)
        return
    os.makedirs(args.out, exist_ok=True)
    if os.path.exists(stamp):
        os.unlink(stamp)

    rng = random.Random(args.seed)
    real = []
    for p in sources:
        real += read_lines(p)
    info = []
    if real:
        info.append('real chat lines: %d lines from %s (half of the corpus lines)'
                    % (len(real), ', '.join(os.path.basename(p) for p in sources)))
    else:
        print('gen_data.py: %s has no corpora: the corpus is generated text only' % corpora,
              file=sys.stderr)
        info.append('real chat lines: none (%s absent): generated sales lines only' % corpora)
    print('gen_data.py: writing a %d MiB corpus...' % args.mb, file=sys.stderr)
    n, nreal, ngen = make_corpus(os.path.join(args.out, 'corpus.txt'), real,
                                 args.mb << 20, rng)
    info.append('generated sales lines: %d (templates with names, phone numbers, products, '
                'prices, times, emoji; 1.5%% carry a violation, often spelled to evade, '
                '1.5%% an ID card, bank card or e-mail)' % ngen)
    info.append('corpus: %d lines, %d bytes, seed %d' % (n, os.path.getsize(
        os.path.join(args.out, 'corpus.txt')), args.seed))
    # Lexicons from their own generator: the same words whatever the corpus size.
    nbase, sizes = make_lexicons(args.out, read_lines(lexfile), random.Random(args.seed + 1))
    info.append('lexicons: sampled from houbb-sensitive-word-v20240407.txt (%d usable words); '
                '100k = all of them + %d combinations of two words\' pieces'
                % (nbase, sizes['100k'] - nbase))
    with open(os.path.join(args.out, 'info.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(info) + '\n')
    with open(stamp, 'w') as f:
        f.write(digest + '\n')


if __name__ == '__main__':
    main()
