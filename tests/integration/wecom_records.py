# SPDX-License-Identifier: MIT
# Archive records for the fake WeCom SDK (tests/wecom/fake_sdk.c): every message type the
# chat archive documents, shaped as WeCom's documentation shows them (the values are ours), and
# bulk sets of them for the 10,000-record test and the benchmark (bench/wecom). A record is a
# line of records.jsonl: {"seq", "ver", "msg"} plus the fake's options.
import hashlib
import json
import os

# external contacts (customers) as WeCom names them: wm/wo and 30 more characters
EXT = ["wm" + ("%030d" % i).replace("0", "x") for i in range(1, 41)]
ROOM = "wrRoom0000000000000000000000001"


def media_file(media_dir, fileid, data):
    """Write a media file the fake serves; its md5 as WeCom's md5sum."""
    os.makedirs(media_dir, exist_ok=True)
    with open(os.path.join(media_dir, fileid), "wb") as f:
        f.write(data)
    return hashlib.md5(data).hexdigest()


def head(msgid, ms, msgtype, frm, to, room=""):
    return {"msgid": msgid, "action": "send", "from": frm, "tolist": to, "roomid": room,
            "msgtime": ms, "msgtype": msgtype}


def every_type(prefix, ms, emp, ext, media_dir):
    """One message of every documented type (plus a type this version does not know and the
    switch record), emp writing to ext or ext writing to emp, with the media they name. Returns
    [(msgtype workphone stores, message dict, a piece of its text or None)]."""
    out = []

    def add(msgtype, body, text, wp_type=None, inbound=False, room=""):
        n = len(out)
        frm, to = (ext, [emp]) if inbound else (emp, [ext])
        m = head("%s-%02d-%s" % (prefix, n, msgtype), ms + n * 1000, msgtype, frm, to, room)
        m.update(body)
        out.append((wp_type or msgtype, m, text))

    img = os.urandom(3000)
    voice, video = os.urandom(5000), os.urandom(140000)
    doc = ("报价单 " * 2000).encode()
    ids = {k: "%s%s" % (prefix.replace("-", ""), k) for k in
           ("img", "voice", "video", "emo", "file", "mx", "mv", "vds")}
    md5 = {k: media_file(media_dir, ids[k], v) for k, v in
           [("img", img), ("voice", voice), ("video", video), ("emo", img[:900]),
            ("file", doc), ("mx", img[:1500]), ("mv", voice[:2500]), ("vds", doc[:4000])]}
    add("text", {"text": {"content": "您好，这笔可以走飞单，价格更低"}}, "飞单")
    add("text", {"text": {"content": "请问保本保息吗"}}, "保本保息", inbound=True)
    add("image", {"image": {"md5sum": md5["img"], "filesize": len(img),
                            "sdkfileid": ids["img"]}}, "[图片]", inbound=True)
    add("revoke", {"revoke": {"pre_msgid": out[0][1]["msgid"]}}, "撤回")
    add("agree", {"agree": {"userid": ext, "agree_time": ms}}, "同意会话存档", inbound=True)
    add("disagree", {"disagree": {"userid": ext, "disagree_time": ms}}, "不同意会话存档",
        inbound=True)
    add("voice", {"voice": {"md5sum": md5["voice"], "voice_size": len(voice), "play_length": 10,
                            "sdkfileid": ids["voice"]}}, "[语音]", inbound=True)
    add("video", {"video": {"md5sum": md5["video"], "filesize": len(video), "play_length": 6,
                            "sdkfileid": ids["video"]}}, "[视频]")
    add("card", {"card": {"corpname": "某某置业", "userid": EXT[-1]}}, "[名片] 某某置业")
    add("location", {"location": {"longitude": 121.47, "latitude": 31.23,
                                  "address": "上海市黄浦区人民大道", "title": "人民广场",
                                  "zoom": 15}}, "人民广场")
    add("emotion", {"emotion": {"type": 1, "width": 100, "height": 100, "imagesize": 900,
                                "md5sum": md5["emo"], "sdkfileid": ids["emo"]}}, "[表情]")
    add("file", {"file": {"md5sum": md5["file"], "filename": "报价单.txt", "fileext": "txt",
                          "filesize": len(doc), "sdkfileid": ids["file"]}}, "报价单.txt")
    add("link", {"link": {"title": "新盘介绍", "description": "首付两成，包你赚钱",
                          "link_url": "https://example.com/p/1",
                          "image_url": "https://example.com/p/1.png"}}, "首付两成")
    add("weapp", {"weapp": {"title": "预约看房", "description": "周末专车",
                            "username": "gh_abc@app", "displayname": "某某小程序"}}, "预约看房")
    add("chatrecord", {"chatrecord": {"title": "群聊的聊天记录", "item": [
        {"type": "ChatRecordText", "msgtime": ms // 1000, "from_chatroom": False,
         "content": json.dumps({"content": "私下转账给我就行"}, ensure_ascii=False)},
        {"type": "ChatRecordImage", "msgtime": ms // 1000, "from_chatroom": False,
         "content": json.dumps({"md5sum": "x", "filesize": 1})}]}}, "私下转账给我就行")
    add("todo", {"todo": {"title": "回访客户", "content": "周五前电话回访"}}, "周五前电话回访")
    add("vote", {"vote": {"votetitle": "看房时间", "voteitem": ["周六", "周日"], "votetype": 101,
                          "voteid": "v1"}}, "看房时间")
    add("collect", {"collect": {"room_name": "客户群", "creator": emp,
                                "create_time": "2026-11-27 10:00:00", "title": "意向登记",
                                "details": [{"id": 1, "ques": "预算多少", "type": "Text"}]}},
        "预算多少")
    add("redpacket", {"redpacket": {"type": 1, "wish": "恭喜发财", "totalcnt": 1,
                                    "totalamount": 880000}}, "恭喜发财")
    add("external_redpacket", {"redpacket": {"type": 1, "wish": "合作愉快", "totalcnt": 1,
                                             "totalamount": 3000}}, "合作愉快",
        wp_type="redpacket")
    add("meeting", {"meeting": {"topic": "签约会", "starttime": ms // 1000,
                                "endtime": ms // 1000 + 3600, "address": "三楼会议室",
                                "remarks": "带好合同", "meetingtype": 101, "meetingid": 7,
                                "status": 1}}, "签约会")
    add("calendar", {"calendar": {"title": "带看", "creatorname": "张三",
                                  "attendeename": ["李四"], "starttime": ms // 1000,
                                  "endtime": ms // 1000 + 3600, "place": "小区南门",
                                  "remarks": "提前十分钟"}}, "小区南门")
    add("docmsg", {"doc": {"title": "购房合同草稿", "doc_creator": emp,
                           "link_url": "https://doc.example.com/d/1"}}, "购房合同草稿")
    add("markdown", {"info": {"content": "**限时优惠** 加我私人微信"}}, "加我私人微信")
    add("news", {"info": {"item": [{"title": "本周新盘", "description": "三个盘源",
                                    "url": "https://example.com/n/1",
                                    "picurl": "https://example.com/n/1.png"}]}}, "本周新盘")
    add("mixed", {"mixed": {"item": [
        {"type": "text", "content": json.dumps({"content": "看这张户型图"}, ensure_ascii=False)},
        {"type": "image", "content": json.dumps({"md5sum": md5["mx"], "filesize": 1500,
                                                 "sdkfileid": ids["mx"]})}]}}, "看这张户型图")
    add("meeting_voice_call", {"voiceid": "vc-" + prefix, "meeting_voice_call": {
        "endtime": ms // 1000 + 60, "sdkfileid": ids["mv"],
        "demofiledata": [{"filename": "户型方案.pdf", "demooperator": emp,
                          "starttime": ms // 1000, "endtime": ms // 1000 + 60}]}}, "户型方案.pdf")
    add("voip_doc_share", {"voipid": "vp-" + prefix, "voip_doc_share": {
        "filename": "价格表.docx", "md5sum": md5["vds"], "filesize": 4000,
        "sdkfileid": ids["vds"]}}, "价格表.docx")
    add("sphfeed", {"sphfeed": {"feed_type": 4, "sph_name": "某某置业官方", "feed_desc": "样板间"}},
        "样板间")
    add("voiptext", {"voiptext": {"callduration": 63, "invitetype": 1}}, "[音视频通话] 63秒")
    add("qydiskfile", {"qydiskfile": {"info": {"filename": "楼书.pdf"}}}, "楼书.pdf")
    add("text", {"text": {"content": "群里说一下：周末开盘"}}, "周末开盘", room=ROOM)
    add("futuretype", {"futuretype": {"note": "一个新类型"}}, "一个新类型")
    n = len(out)
    out.append(("switch", {"msgid": "%s-%02d-switch" % (prefix, n), "action": "switch",
                           "time": ms + n * 1000, "user": emp}, "[切换企业]"))
    return out


# the bulk set's texts: ordinary talk, and one in ten with a violation of the default lexicon
TALK = ["您好，房子还在吗", "周末可以看房", "首付大概多少", "我再考虑一下", "好的谢谢",
        "麻烦发一下户型图", "价格还能谈吗", "明天下午有空", "贷款能批多少", "小区物业怎么样"]


def bulk(n, seq0, ms0, emps, media_dir=None):
    """n records cycling through the types (texts mostly, as chats are): some texts hold 飞单,
    every record a unique token "编号<seq>号". Returns (records, the number holding 飞单)."""
    recs, alerts = [], 0
    kinds = ["text"] * 7 + ["link", "redpacket", "image", "file", "weapp", "chatrecord",
                            "markdown", "location", "todo", "card", "futuretype"]
    img = os.urandom(2000)
    md5 = media_file(media_dir, "bulkimg", img) if media_dir else "x"
    for i in range(n):
        seq = seq0 + i
        emp = emps[i % len(emps)]
        ext = EXT[i % len(EXT)]
        kind = kinds[i % len(kinds)]
        inbound = i % 3 == 0
        frm, to = (ext, [emp]) if inbound else (emp, [ext])
        m = head("bulk-%d" % seq, ms0 + i * 10, kind, frm, to)
        token = "编号%d号" % seq
        if kind == "text":
            bad = i % 10 == 0
            alerts += bad
            m["text"] = {"content": "%s %s%s" % (TALK[i % len(TALK)], token,
                                                 "，走飞单吧" if bad else "")}
        elif kind == "link":
            m["link"] = {"title": token, "description": "新盘", "link_url": "https://e.com/%d" % i}
        elif kind == "redpacket":
            m["redpacket"] = {"type": 1, "wish": token, "totalcnt": 1, "totalamount": 100}
        elif kind == "image":
            m["image"] = {"md5sum": md5, "filesize": len(img), "sdkfileid": "bulkimg"}
        elif kind == "file":
            m["file"] = {"md5sum": md5, "filename": token + ".png", "fileext": "png",
                         "filesize": len(img), "sdkfileid": "bulkimg"}
        elif kind == "weapp":
            m["weapp"] = {"title": token, "description": "看房", "displayname": "小程序"}
        elif kind == "chatrecord":
            m["chatrecord"] = {"title": token, "item": [{"type": "ChatRecordText",
                                                         "content": json.dumps({"content": "转发"},
                                                                               ensure_ascii=False)}]}
        elif kind == "markdown":
            m["info"] = {"content": token}
        elif kind == "location":
            m["location"] = {"title": token, "address": "某路", "longitude": 1.0, "latitude": 2.0}
        elif kind == "todo":
            m["todo"] = {"title": token, "content": "回访"}
        elif kind == "card":
            m["card"] = {"corpname": token, "userid": EXT[0]}
        else:
            m["futuretype"] = {"note": token}
        recs.append({"seq": seq, "ver": 1, "msg": m})
    return recs, alerts


def write_records(path, recs, append=False):
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
