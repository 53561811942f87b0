# SPDX-License-Identifier: MIT
"""The events of test_disk.sh, the same for the client that sends them and the check that
reads them back: messages of about 1.5 KB, each text naming its seq, so a disk fills fast and
any mix-up shows."""
import json, sys

PAD = "存储已满时不得丢失任何已确认的消息。" * 30

def event(seq):
    ts = "2026-11-22T%02d:%02d:%02d+08:00" % (8 + seq // 3600 % 12, seq // 60 % 60, seq % 60)
    peer = "wxid_disk_%d" % (seq % 5)
    return {"type": "message", "seq": seq, "ts": ts, "channel": "wechat",
            "direction": "out" if seq % 2 else "in", "peer": {"id": peer, "name": "客户%d" % (seq % 5)},
            "chat": peer, "msgtype": "text", "text": "disk %d %s" % (seq, PAD)}

if __name__ == "__main__":  # disk_events.py FIRST LAST: one event a line, without seq (agent)
    for s in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
        e = event(s)
        del e["seq"]
        print(json.dumps(e, ensure_ascii=False))
