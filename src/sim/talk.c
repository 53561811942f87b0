/* SPDX-License-Identifier: MIT */
/* What the simulated people say: scripted exchanges per trade and stage of a sale, violations
 * planted in them, and the slots ({c}, {xq}, {zj}, ...) filled from the customer's traits.
 *
 * A script is one string, a message a line: '>' the employee's side, '<' the customer's; then
 * '!' when that message breaks a rule; then either text, or "@link TITLE|KIND",
 * "@transfer YUAN|MEMO", "@redpacket YUAN|MEMO", "@sms TEXT". Clean lines must raise nothing in
 * data/lexicon/default.txt and violating ones must: tests/unit/sim checks both. */
#include "sim/sim_int.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- property (置业顾问) --------------------------------------------------------------------- */

static const char *const prop_0[] = {
    (">{c}您好，我是{brand}{store}的{me}，刚才电话里跟您聊过，以后有合适的房源我第一时间发您\n"
     "<好的\n>您这边是首套还是改善？预算大概多少呀？\n<首套，总价{ys}万左右，想要{hx}\n"
     ">收到，{xq}和{xq2}这两个小区都挺符合的，我整理一下发您\n<好的谢谢"),
    ("<你好，我在网上看到你们挂的{xq}那套{hx}，还在吗？\n>在的{c}，{mj}平，挂牌{zj}万，业主诚心出\n"
     "<几楼？采光怎么样\n>中间楼层，南北通透，采光挺好的\n>您方便的话可以过来实地看看\n"
     "<周末可以吗\n>可以的，我先跟业主约一下时间，约好了告诉您"),
    (">{c}您好，我是{brand}的{me}，您在门店留了看房需求，跟您确认一下\n<嗯是的\n"
     ">您主要考虑哪个片区？对学校、地铁有要求吗？\n<离地铁近点就行，{kid}还小，学校暂时不考虑\n"
     ">明白，那我按{hx}、{ys}万以内帮您筛，晚点发几套给您"),
    ("<你好，我想把{xq}的房子挂出去卖\n>{c}您好！请问房子多大面积？几楼？\n<{mj}平，{n}楼，{hx}\n"
     ">好的，这个小区最近成交单价在{dj}左右，我约个时间上门看看房子，拍点照片\n"
     "<可以，{day}下午在家\n>好的，那{day}下午我过去"),
};

static const char *const prop_1[] = {
    (">{c}，给您挑了几套，先看看有没有感兴趣的\n>@link 【{xq}】{mj}㎡ {hx} 总价{zj}万|house\n"
     ">@link 【{xq2}】{mj2}㎡ {hx} 总价{zj2}万|house\n<第一套看着不错，税费大概多少\n"
     ">满五唯一的只有契税，具体多少以网签为准，我让同事帮您算一下\n<好的"),
    ("<{xq}最近成交价多少啊\n>上个月同户型成交了两套，单价都在{dj}左右，这套挂得不算高\n<还能谈吗\n"
     ">我去探探业主口风，应该有一点空间"),
    (">{c}，{xq}今天新上了一套{hx}，{mj}平，精装修，业主换房急售\n<多少钱\n"
     ">挂{zj}万，比同小区便宜一些，您要不要先看看视频\n<发来看看\n"
     ">@link 【{xq}】房源实拍视频|video\n<看着还行，周末去看看"),
    ("<有没有{ys}万以内带车位的\n>有一套{xq2}的，车位单独卖，二十来万\n<车位太贵了\n"
     ">那我再帮您找找不带车位、小区停车方便的"),
    ("<这个小区物业怎么样\n>物业是老牌的，一平米{n}块多，绿化和安保都还可以\n<停车方便吗\n"
     ">地下车库，车位配比还行，晚上回来基本有位置"),
    ("<这套为什么比别的便宜\n>这套是一楼，带个小院子，有些客户不喜欢一楼，所以价格低一点\n"
     "<一楼潮不潮\n>楼下是架空层，不算真正的一楼，您来看了就知道"),
};

static const char *const prop_2[] = {
    (">{c}，业主约好了，{t}可以看房，您时间方便吗？\n<可以\n>那我们{t}在{xq}南门见，我提前十分钟到\n"
     "<好的\n>@sms 【{brand}】{c}您好，您预约的{xq}看房时间为{t}，顾问{myname}，电话{myphone}。"),
    (">{c}今天辛苦了，刚才那套您觉得怎么样？\n<房子还行，就是厨房有点小\n"
     ">厨房是小一点，很多业主会把阳台打通做成开放式，空间就大了\n<我跟{who}商量一下\n"
     ">好的，有问题随时问我"),
    ("<{day}能再去看一次吗？想带{who}一起去\n>可以的，我跟业主约一下\n"
     ">约好了，{day}下午三点，{xq}南门见\n<好"),
    (">{c}，我到{xq}门口了，您到哪了？\n<堵车了，大概还要十分钟\n>没事不着急，我先跟业主打个招呼\n"
     "<到了，你在哪\n>我在门卫这边，穿蓝色衣服"),
    ("<昨天看的那套是不是有点吵\n>靠马路那侧白天有点车声，卧室在另一侧，关上窗基本听不到\n<晚上呢\n"
     ">晚上车少很多，您要是不放心，可以晚上再来感受一下"),
};

static const char *const prop_3[] = {
    ("<那套业主最低多少能卖\n>我问过了，业主说最低{zj2}万\n<{zj3}万能不能谈\n"
     ">我尽量帮您争取，您可以先交个意向金，我拿着去谈更有说服力\n<意向金多少\n"
     ">一般两万，交到公司对公账户，谈不成全额退"),
    ("<贷款的话月供大概多少\n>按商贷{dk}万、三十年算，月供大概{yg}元，公积金会低一些\n"
     "<我们两个都有公积金\n>那可以做组合贷，我让贷款专员帮您详细算一下"),
    (">{c}，业主同意{zj2}万了，您看这周能不能过来签\n<这么快，我再想想\n"
     ">理解，这套这周还有两组客户在看，您考虑好了尽早跟我说\n<好，明天给你答复"),
    ("<中介费能不能少点\n>我们公司的标准是百分之二，这个我做不了主，我帮您跟店长申请一下\n"
     "<麻烦了\n>店长说可以打个九折，这是最大的优惠了\n<行吧"),
    ("<这套房子有没有抵押\n>业主还有银行贷款没还完，签约后首付款先用来还贷解押，资金走银行监管账户\n"
     "<那就好"),
};

static const char *const prop_4[] = {
    ("<我们决定要了\n>太好了！那{t}来门店签约，带上身份证、户口本和结婚证\n<好的\n"
     ">@sms 【{brand}】{c}您好，签约时间{t}，地点{brand}{store}，请携带身份证件原件。"),
    (">{c}，网签已经办好了，下一步是银行面签，约在{day}\n<需要准备什么\n"
     ">收入证明、银行流水、身份证、户口本，清单发您\n>@link 贷款面签材料清单|doc\n<收到"),
    ("<定金怎么付\n>@link {brand}定金支付说明（对公账户）|pay\n"
     ">定金转到公司对公账户就行，转完把回单截图给我\n<好的，已经转了"),
    ">{c}，过户约在{day}上午，交易中心见\n<好\n>过户当天记得带上身份证原件和银行卡\n<收到",
    (">{c}，交房那天我陪您一起去验房\n<好的，谢谢\n>应该的，以后有什么需要随时找我\n"
     "<@redpacket 66|谢谢{me}\n>{c}太客气了，红包我就不收了，心意领了"),
};

static const char *const prop_c[] = {
    ">{c}，最近还在看房吗？\n<还在看，不着急\n>好的，有新房源我再发您",
    "<在吗\n>在的{c}，您说\n<{xq}那套还在吗\n>还在的，这两天看的人挺多",
    ">{c}，{xq}这周有套{hx}降价了，{zj2}万，要不要看看？\n<先不了，最近忙\n>好的，您忙完了跟我说",
    ">{c}，这两天降温了，出门多穿点\n<谢谢提醒",
    "<{me}，最近市场怎么样\n>成交量比上个月多了一些，好房子还是挺抢手的，价格基本稳定\n<哦哦",
    ">{c}，新的房贷利率出来了，首套又降了一点\n<那挺好\n>您要是有想法，我们约个时间细聊",
};

/* --- insurance (保险规划师) ------------------------------------------------------------------ */

static const char *const ins_0[] = {
    (">{c}您好，我是{brand}的{me}，上次在社区讲座上加的您，您说想了解一下家庭保障\n"
     "<对，想给{kid}和自己配一下\n>方便说一下家里几口人、年龄和预算吗？我帮您出个方案\n"
     "<我{age}岁，{kid}{kidage}岁，一年预算两三万\n>收到，我今天整理一下，晚点发您"),
    ("<你好，朋友推荐的，想咨询一下重疾险\n>{c}您好！谢谢信任，请问是给谁买呢？\n<给我自己，{age}岁\n"
     ">您有社保吗？之前有没有住院或者体检异常？\n<有社保，体检有个甲状腺结节\n"
     ">明白，结节要看分级，我先帮您看看哪几款核保宽松一些"),
    (">{c}您好，我是{brand}{store}的{me}，您之前在公众号留言咨询{prod}，跟您联系一下\n"
     "<哦对，想了解一下\n>您方便的时候我打个电话给您详细介绍，大概十分钟\n<晚上吧，白天上班\n"
     ">好的，那我晚上八点给您打"),
};

static const char *const ins_1[] = {
    (">{c}，方案做好了，您看一下\n>@link {prod}计划书（{c}）|plan\n<保额多少\n"
     ">重疾保额{be}万，年交{bf}元，交二十年\n<有点贵\n"
     ">可以把保额降到{be2}万，或者搭一份定期的，保费能低不少"),
    ("<这个和百万医疗有什么区别\n"
     ">百万医疗是报销住院花的钱，重疾是确诊了直接给一笔钱，弥补收入损失，两个最好搭配着买\n"
     "<那两个都要买吗\n>预算允许的话建议都配，医疗险一年几百块"),
    ("<{prod}能领多少钱\n>合同里写明的领取部分是确定的，分红部分不确定，要看公司实际经营情况\n"
     "<大概呢\n>我按您{age}岁、年交{bf}算一下，利益演示表发您\n>@link {prod}利益演示表|plan"),
    ("<{kid}的保险怎么买比较好\n>孩子优先配医疗险和重疾险，意外险也很便宜，教育金可以等预算宽裕了再说\n"
     "<少儿重疾多少钱一年\n>{kid}{kidage}岁，保额{be2}万的话一年大概一千多\n<还挺便宜"),
    "<你们公司理赔快吗\n>小额理赔一般三到五个工作日，材料齐全的话更快，我们有专人协助理赔\n<那还行",
};

static const char *const ins_2[] = {
    ("<我有高血压，能买吗\n>要如实做健康告知，高血压主要看控制情况，可能加费或者除外，也可能标准承保\n"
     "<会不会被拒\n>不一定，可以先做智能核保看看结果"),
    (">{c}，核保结果出来了，标准体承保，没有加费\n<太好了\n"
     ">那约个时间，我把条款给您详细讲一遍再投保\n<{day}晚上可以"),
    "<等待期是多久\n>重疾等待期90天，意外没有等待期\n<好的",
    "<犹豫期多少天\n>犹豫期15天，这期间退保全额退还保费\n<了解了",
};

static const char *const ins_3[] = {
    (">{c}，投保需要您的身份证信息，方便发一下吗？\n<{idno}\n>收到，投保链接发您，核对信息后本人签名\n"
     ">@link {prod}电子投保确认|sign\n<签好了"),
    "<保费怎么交\n>绑定您本人的银行卡，保险公司直接扣款，不经过个人账户\n<好的",
    ">{c}，保单已经生效，电子保单发您邮箱了，纸质的下周寄到\n<收到，谢谢",
    ">{c}，投保前再跟您确认一下，健康告知每一条都要如实填，有不确定的告诉我\n<好的，我再看一遍",
};

static const char *const ins_4[] = {
    ("<{kid}上周发烧住院了，能报销吗\n>可以的，您把发票、出院小结、费用清单拍照发我，我帮您提交理赔\n"
     "<好，晚上整理一下"),
    ">{c}，理赔款到账了，您查收一下\n<收到了，谢谢你啊\n>应该的",
    ">{c}，下个月{day}是续期缴费日，记得卡里留够余额\n<好的",
    "<我换了手机号，保单要改吗\n>要改的，您把新号码发我，我帮您在线变更\n<{phone}\n>好的，已经提交了",
};

static const char *const ins_c[] = {
    ">{c}，最近天气变化大，注意身体\n<谢谢",
    (">{c}，我们{day}有个健康讲座，请了三甲医院的医生，您有兴趣可以来听听\n<在哪里\n"
     ">就在{store}，我给您留个位置\n<好的"),
    "<{me}，上次说的那个方案我还在考虑\n>不着急{c}，保险是长期的事，想清楚再定",
    ">{c}，您的保单年度报告出来了，发您看一下\n>@link {prod}保单年度报告|report\n<好的",
};

/* --- education (课程顾问) ------------------------------------------------------------------- */

static const char *const edu_0[] = {
    (">{c}您好，我是{brand}{store}的课程顾问{me}，您在公众号预约了试听课，跟您确认一下\n"
     "<对，想给{kid}报个{kc}\n>{kid}现在几年级？成绩怎么样？\n<{nj}，成绩中等，{kc}偏弱\n"
     ">好的，先安排一节测评课，看看具体哪里薄弱"),
    ("<你好，{kc}怎么收费\n>{c}您好，{kc}小班课一期{ks}节，{kf}元，也有一对一\n<一对一多少钱一节\n"
     ">一对一{yd}元一节，买得多有优惠\n<好的我考虑一下"),
    (">{c}您好，我是{brand}的{me}，{kid}在我们这上过暑假班，新学期的课表出来了，给您发一下\n"
     ">@link {brand}新学期课表|schedule\n<好的，我看看"),
};

static const char *const edu_1[] = {
    (">{c}，试听课安排在{t}，地址是{brand}{store}，到了打我电话\n<好的\n"
     ">@sms 【{brand}】{c}您好，{kid}的试听课时间为{t}，地点{store}，联系人{myname} {myphone}。"),
    (">{c}，今天{kid}试听表现挺好的，老师说基础不错，就是有点粗心\n<他回来说挺喜欢那个老师的\n"
     ">那太好了，可以先报一期看看效果"),
    ("<上课时间能调吗，周末有别的课\n>可以的，我们周三周五晚上也有班，我帮您看看还有没有位置\n<好\n"
     ">周五晚上六点半那个班还有两个位置，给您留一个？\n<留一个吧"),
    "<老师是哪个学校毕业的\n>主讲老师是师范大学毕业的，教了八年，试听的时候您也可以旁听\n<好的",
};

static const char *const edu_2[] = {
    (">{c}，给{kid}做的学习规划发您了\n>@link {kid}的{kc}学习规划|plan\n<这个要学多久\n"
     ">按现在的基础，建议先学两期，学完做个阶段测评再定"),
    "<效果不好能退吗\n>按合同没上的课时可以退，具体看合同里的退费条款\n<那还行",
    ">{c}，这个月报名有活动，两期一起报送{n}节课\n<送的课有效期多久\n>一年内有效\n<我考虑一下",
    "<一个班多少人\n>小班最多八个人，老师能顾得过来\n<好",
};

static const char *const edu_3[] = {
    ("<那就先报一期吧\n>好的，电子合同发您，确认没问题在线签字\n>@link {brand}培训服务合同|sign\n"
     "<签好了\n>学费用机构的收款码付就行，我们开发票"),
    "<学费付了，发票开给我单位可以吗\n>可以的，您把单位抬头和税号发我\n<{company}，税号晚点发你\n>好的",
    ">{c}，课表排好了，每周{day}上课，第一次课记得带上课本\n<好的",
    "<学费能分期吗\n>可以用信用卡分期，手续费按银行的标准，也可以按期交\n<那我按期交吧",
};

static const char *const edu_4[] = {
    ">{c}，这是{kid}这周的课堂反馈，进步挺明显的\n>@link {kid}课堂反馈|feedback\n<谢谢老师",
    "<{kid}这周感冒了，能请假吗\n>可以的，我跟老师说一下，课时顺延\n<好的谢谢",
    ">{c}，期中测评成绩出来了，比上次提高了{n}分\n<太好了，辛苦老师了",
    ">{c}，{kid}的课时还剩{n}节，续费的话现在有老学员优惠\n<我问问{kid}还想不想学",
};

static const char *const edu_c[] = {
    ">{c}，{day}有雨，接送{kid}注意安全\n<好的谢谢",
    "<{kid}作业有道题不会，能问一下老师吗\n>可以的，您拍照发我，我转给老师\n<好的，我拍一下",
    ">{c}，这周六上午有家长会，讲一下期末复习安排，您方便来吗\n<可以",
    "<{me}，{kid}最近说不想上课了\n>我跟老师沟通一下，看看是不是进度太快了，调整一下方法\n<好的麻烦了",
};

struct trade_talk {
    const char *brand;
    const char *const *stages[WP_SIM__STAGES];
    size_t n_stages[WP_SIM__STAGES];
    const char *const *checkin;
    size_t n_checkin;
};

#define S(a) a, N(a)
static const struct trade_talk talks[3] = {
    {"鼎盛地产", {prop_0, prop_1, prop_2, prop_3, prop_4},
     {N(prop_0), N(prop_1), N(prop_2), N(prop_3), N(prop_4)}, S(prop_c)},
    {"鼎盛保险", {ins_0, ins_1, ins_2, ins_3, ins_4},
     {N(ins_0), N(ins_1), N(ins_2), N(ins_3), N(ins_4)}, S(ins_c)},
    {"鼎盛教育", {edu_0, edu_1, edu_2, edu_3, edu_4},
     {N(edu_0), N(edu_1), N(edu_2), N(edu_3), N(edu_4)}, S(edu_c)},
};

/* --- violations ---------------------------------------------------------------------------- */

struct violation {
    int trade; /* -1: any */
    const char *category;
    int must_alert;
    unsigned weight;
    const char *script;
};

static const struct violation violations[] = {
    {-1, "contact_leak", 1, 8, ">!以后加我私人微信聊吧，这个号公司都能看到\n<行，微信号多少"},
    {-1, "contact_leak", 1, 6, ">!{c}，有事打我私人电话{pphone}，这个工作号我不常看\n<好的"},
    {-1, "contact_leak", 1, 5, ">!加我vx {pwx}，那边说话方便\n<好"},
    {-1, "contact_leak", 1, 3, ">!我有个微信小号，加那个吧，{pwx}\n<好的"},
    {-1, "private_deal", 1, 4,
     ">!这单别走公司了，你直接转我个人账户，我给你再便宜点\n<这样靠谱吗\n>放心，我做了这么多年了"},
    {-1, "private_deal", 1, 4, ">!别让经理知道，这个价格只有私下才能给\n<明白"},
    {-1, "private_deal", 1, 3, ">!聊完这个记得删除聊天记录\n<好"},
    {-1, "private_deal", 1, 2, ">!这个报价单你看完就删，别外传\n<知道了"},
    {-1, "private_deal", 1, 4, "<!能不能不走公司，直接给你，便宜点\n>这个不行的{c}，必须走公司流程"},
    {-1, "private_deal", 1, 3, ">!这单我帮您飞单，走我朋友那边的渠道，能省不少\n<这样可以吗"},
    {-1, "private_deal", 1, 2, "<!听说你们这行可以飞单？能便宜多少\n>{c}，这个我们私下聊"},
    {-1, "rebate", 1, 3, ">!成交以后私下返您两个点，别跟别人说\n<好"},
    {-1, "rebate", 1, 2, ">!您帮我介绍客户，成了给您好处费\n<哈哈行"},
    {-1, "poaching", 1, 2, ">!我下个月就离职了，离职后直接找我，价格还能更低\n<啊，你要走了？"},
    {-1, "poaching", 1, 1, ">!我们新公司条件更好，来我新公司这边办吧\n<我考虑一下"},
    {-1, "pii", 0, 2, ">!{c}，这是我们另一位客户的电话{other}，您可以问问他的体验\n<好"},
    {-1, "abuse", 1, 1, ">!你是不是有病啊，说了多少遍了\n<你怎么说话的"},
    {WP_SIM_PROPERTY, "false_promise", 1, 5, ">!这个小区明年地铁通了，肯定会升值\n<真的吗"},
    {WP_SIM_PROPERTY, "false_promise", 1, 3, ">!现在买稳赚不赔，过两年至少涨三成\n<这么肯定？"},
    {WP_SIM_PROPERTY, "false_promise", 1, 2, ">!这个商铺带租约，保本保息，每年租金回报6%\n<听着不错"},
    {WP_SIM_PROPERTY, "property", 1, 3, ">!首付不够可以走首付贷，我们有渠道\n<利息高吗"},
    {WP_SIM_PROPERTY, "property", 1, 3, ">!可以帮您做低网签价，税能省好几万\n<这样可以吗"},
    {WP_SIM_PROPERTY, "property", 1, 2, ">!经营贷拿来付首付没问题，我帮您找人办\n<会不会有麻烦"},
    {WP_SIM_PROPERTY, "property", 1, 1, ">!可以签个阴阳合同，少交点税\n<这个合法吗"},
    {WP_SIM_PROPERTY, "private_deal", 1, 3,
     ">!中介费您私下转账给我，比走公司便宜一半\n<@transfer {yj}|中介费\n>收到了"},
    {WP_SIM_PROPERTY, "private_deal", 1, 2, ">!这套我可以帮您飞单，中介费省一半\n<什么意思"},
    {WP_SIM_PROPERTY, "pii", 0, 2, ">!业主电话{other}，您直接联系他\n<好的"},
    {WP_SIM_PROPERTY, "abuse", 1, 1, ">!爱买不买，后面排队的人多得是\n<你什么态度"},
    {WP_SIM_INSURANCE, "false_promise", 1, 5, ">!这款保本保息，年化4%，比存银行强\n<那挺好"},
    {WP_SIM_INSURANCE, "false_promise", 1, 3, ">!放心，这个产品保本保息，到期本金利息一分不少\n<那我考虑一下"},
    {WP_SIM_INSURANCE, "insurance", 1, 3, ">!跟银行存款一样安全，随时能取\n<真的吗"},
    {WP_SIM_INSURANCE, "insurance", 1, 3, ">!这款下个月就停售了，要买抓紧\n<这么快"},
    {WP_SIM_INSURANCE, "insurance", 1, 3, ">!那个结节不用做健康告知，直接投就行\n<不会有问题吧"},
    {WP_SIM_INSURANCE, "insurance", 1, 2, ">!别写住院那次，核保查不到的\n<好"},
    {WP_SIM_INSURANCE, "insurance", 1, 3, ">!放心，真出了事肯定能赔\n<那就好"},
    {WP_SIM_INSURANCE, "rebate", 1, 2, ">!现在投保返现，首年保费返您两成\n<还有这种好事"},
    {WP_SIM_INSURANCE, "false_promise", 1, 2, ">!保证每年分红6%以上\n<这么高"},
    {WP_SIM_INSURANCE, "fraud", 1, 2, ">!签名我帮您代签就行，不用跑一趟\n<好的"},
    {WP_SIM_INSURANCE, "insurance", 1, 1, ">!您要退保的话我可以帮您代理退保，能全额拿回来\n<真的吗"},
    {WP_SIM_EDUCATION, "education", 1, 5, ">!报我们的班保证通过，考不过全额退款\n<真的吗"},
    {WP_SIM_EDUCATION, "education", 1, 3, ">!我们有内部名额，可以直接进实验班\n<多少钱"},
    {WP_SIM_EDUCATION, "private_deal", 1, 3, ">!学费转我个人支付宝，可以少一千\n<行"},
    {WP_SIM_EDUCATION, "private_deal", 1, 3, ">!不开发票的话能便宜八百\n<那不要发票了"},
    {WP_SIM_EDUCATION, "education", 1, 3, ">!保证提分20分以上，没提分全退\n<这么有把握"},
    {WP_SIM_EDUCATION, "education", 1, 2, ">!{kid}这个基础，报我们的冲刺班包录取\n<真的假的"},
};

static const struct violation *pick_violation(enum wp_sim_trade t, wp_sim_rng *r)
{
    unsigned total = 0;
    for (size_t i = 0; i < N(violations); i++)
        if (violations[i].trade < 0 || violations[i].trade == (int)t)
            total += violations[i].weight;
    unsigned x = wp_sim_rng_below(r, total);
    for (size_t i = 0; i < N(violations); i++) {
        if (violations[i].trade >= 0 && violations[i].trade != (int)t)
            continue;
        if (x < violations[i].weight)
            return &violations[i];
        x -= violations[i].weight;
    }
    return &violations[0];
}

/* --- slots --------------------------------------------------------------------------------- */

static const char *const layouts[] = {"一室一厅", "两室一厅", "两室两厅", "三室一厅", "三室两厅",
                                      "四室两厅"};
static const char *const products[] = {"安康一生重疾险", "金福年金险",   "护航百万医疗险",
                                       "小树苗少儿重疾险", "鑫享人生终身寿险", "守护定期寿险"};
static const char *const grades[] = {"幼儿园大班", "一年级", "二年级", "三年级", "四年级", "五年级",
                                     "六年级",     "初一",   "初二",   "初三",   "高一",   "高二"};
struct course {
    const char *name;
    int grade_lo, grade_hi, fee_lo, fee_hi; /* grade: index into grades; fee: yuan a term */
};
static const struct course courses[] = {
    {"少儿英语", 0, 6, 6800, 12800},   {"思维数学", 0, 5, 5800, 9800},
    {"小学语文阅读", 1, 6, 4800, 7800}, {"编程", 2, 9, 7800, 14800},
    {"初中数学", 7, 9, 8800, 15800},   {"初中物理", 8, 9, 8800, 14800},
    {"高中数学", 10, 11, 12800, 19800}, {"高中英语", 10, 11, 11800, 18800},
};
static const char *const times[] = {"明天下午两点", "明天上午十点", "周六上午十点", "周六下午三点",
                                    "周日上午十点", "今天下午四点", "后天上午十点半", "今晚七点",
                                    "这周六下午两点半", "周日下午两点"};
static const char *const days[] = {"周六", "周日", "明天", "后天", "下周一", "周三", "周五"};
static const char *const firms[] = {"恒远科技有限公司", "华信商贸有限公司", "启明建筑设计有限公司",
                                    "嘉禾食品有限公司", "蓝海物流有限公司"};

struct slot {
    const char *name;
    char val[160];
};

#define SLOTS_MAX 48

struct slots {
    struct slot s[SLOTS_MAX];
    size_t n;
};

__attribute__((format(printf, 3, 4))) static void set(struct slots *ss, const char *name,
                                                      const char *fmt, ...)
{
    if (ss->n >= SLOTS_MAX)
        return;
    struct slot *s = &ss->s[ss->n++];
    s->name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->val, sizeof s->val, fmt, ap);
    va_end(ap);
}

static const char *get(const struct slots *ss, const char *name, size_t len)
{
    for (size_t i = 0; i < ss->n; i++)
        if (strlen(ss->s[i].name) == len && !memcmp(ss->s[i].name, name, len))
            return ss->s[i].val;
    return NULL;
}

/* The values of every slot for customer k, with this exchange's random picks (a time, a day,
 * a number) drawn once so a script that names {t} twice means one time. */
static void fill_slots(struct slots *ss, const wp_sim_company *c, size_t k, wp_sim_rng *r)
{
    const wp_sim_customer *cu = &c->customers[k];
    const wp_sim_person *p = &c->people[cu->owner];
    const wp_sim_unit *u = &c->units[p->unit];
    const unsigned *t = cu->traits;
    char surname[8];
    snprintf(surname, sizeof surname, "%.3s", p->name); /* every surname in names.c is one character */

    ss->n = 0;
    set(ss, "c", "%s", cu->call);
    set(ss, "me", "小%s", surname);
    set(ss, "myname", "%s", p->name);
    set(ss, "brand", "%s", talks[u->trade].brand);
    set(ss, "store", "%s", u->name);
    set(ss, "city", "%s", u->city ? u->city : "");
    set(ss, "myphone", "%s", p->phone);
    set(ss, "pphone", "%s", p->private_phone);
    char pw[48];
    snprintf(pw, sizeof pw, "%s", p->username);
    char *dot = strchr(pw, '.');
    if (dot)
        memmove(dot, dot + 1, strlen(dot));
    set(ss, "pwx", "%.30s%02u", pw, (unsigned)(p->private_phone[10] - '0') * 11);
    set(ss, "t", "%s", times[wp_sim_rng_below(r, N(times))]);
    set(ss, "day", "%s", days[wp_sim_rng_below(r, N(days))]);
    static const char *const family_f[] = {"我老公", "我爱人", "家里人", "我妈"};
    static const char *const family_m[] = {"我老婆", "我爱人", "家里人", "我爸"};
    set(ss, "who", "%s", (cu->female ? family_f : family_m)[wp_sim_rng_below(r, 4)]);
    set(ss, "n", "%d", wp_sim_rng_range(r, 2, 9));
    set(ss, "kid", "%s", wp_sim__kids[t[WP_SIM__T_KID] % wp_sim__n_kids]);
    set(ss, "age", "%d", cu->age);
    set(ss, "idno", "%s", cu->id_card);
    char m[12];
    wp_sim__mobile(m, r);
    set(ss, "phone", "%s", m);
    wp_sim__mobile(m, r);
    set(ss, "other", "%s", m);
    set(ss, "company", "%s%s", u->city ? u->city : "", firms[t[WP_SIM__T_ITEM] % N(firms)]);
    set(ss, "xq", "%s", wp_sim__places[t[WP_SIM__T_PLACE] % wp_sim__n_places]);
    unsigned p2 = t[WP_SIM__T_PLACE2] % wp_sim__n_places;
    if (p2 == t[WP_SIM__T_PLACE] % wp_sim__n_places)
        p2 = (p2 + 1) % (unsigned)wp_sim__n_places;
    set(ss, "xq2", "%s", wp_sim__places[p2]);

    switch (u->trade) {
    case WP_SIM_PROPERTY: {
        /* size and price are the customer's; the total follows from the city's price */
        int mj = 55 + (int)(t[WP_SIM__T_SIZE] % 86);
        const struct wp_sim__site *site = NULL;
        for (size_t g = 0; g < WP_SIM_REGIONS_MAX && !site; g++)
            for (size_t s = 0; s < WP_SIM_STORES_MAX && !site; s++)
                if (!strcmp(wp_sim__site(g, s)->store, u->name))
                    site = wp_sim__site(g, s);
        int lo = site ? site->price_lo : 30000, hi = site ? site->price_hi : 50000;
        int price = (lo + (int)(t[WP_SIM__T_PRICE] % (unsigned)(hi - lo))) / 100 * 100;
        int zj = mj * price / 10000;
        const char *hx = mj < 70 ? layouts[t[WP_SIM__T_LAYOUT] % 2]
                         : mj < 100 ? layouts[1 + t[WP_SIM__T_LAYOUT] % 2]
                         : mj < 130 ? layouts[3 + t[WP_SIM__T_LAYOUT] % 2]
                                    : layouts[5];
        set(ss, "mj", "%d", mj);
        set(ss, "mj2", "%d", mj + (int)(t[WP_SIM__T_LAYOUT] % 13) - 6);
        set(ss, "hx", "%s", hx);
        set(ss, "zj", "%d", zj);
        set(ss, "ys", "%d", (zj + 49) / 50 * 50); /* a buyer's budget is a round number */
        set(ss, "zj2", "%d", zj * 97 / 100);
        set(ss, "zj3", "%d", zj * 92 / 100);
        set(ss, "dj", "%.1f万", price / 10000.0);
        set(ss, "dk", "%d", zj * 65 / 100);
        set(ss, "yg", "%d", zj * 65 / 100 * 45);
        set(ss, "yj", "%d", zj * 50);
        break;
    }
    case WP_SIM_INSURANCE: {
        static const int sums[] = {30, 50, 80, 100};
        int be = sums[t[WP_SIM__T_SIZE] % 4];
        set(ss, "prod", "%s", products[t[WP_SIM__T_ITEM] % N(products)]);
        set(ss, "be", "%d", be);
        set(ss, "be2", "%d", be * 6 / 10);
        set(ss, "bf", "%d", be * (150 + (cu->age - 25) * 8) / 10 * 10);
        set(ss, "kidage", "%u", 2 + t[WP_SIM__T_GRADE] % 12);
        break;
    }
    case WP_SIM_EDUCATION: {
        const struct course *co = &courses[t[WP_SIM__T_ITEM] % N(courses)];
        int g = co->grade_lo + (int)(t[WP_SIM__T_GRADE] % (unsigned)(co->grade_hi - co->grade_lo + 1));
        static const int lessons[] = {12, 16, 20, 24};
        set(ss, "kc", "%s", co->name);
        set(ss, "nj", "%s", grades[g]);
        set(ss, "kf", "%d",
            (co->fee_lo + (int)(t[WP_SIM__T_PRICE] % (unsigned)(co->fee_hi - co->fee_lo))) / 100 *
                100);
        set(ss, "ks", "%d", lessons[t[WP_SIM__T_SIZE] % 4]);
        set(ss, "yd", "%d", 260 + 20 * (int)(t[WP_SIM__T_PRICE] % 12));
        break;
    }
    }
}

/* Append tmpl with its {slots} filled. An unknown slot is kept as written (a bug a test sees). */
static int expand(wp_buf *b, const char *tmpl, size_t len, const struct slots *ss)
{
    const char *p = tmpl, *end = tmpl + len;
    int err = 0;
    while (p < end && err == 0) {
        const char *open = memchr(p, '{', (size_t)(end - p));
        if (!open)
            return wp_buf_add(b, p, (size_t)(end - p));
        const char *close = memchr(open, '}', (size_t)(end - open));
        if (!close)
            return wp_buf_add(b, p, (size_t)(end - p));
        const char *v = get(ss, open + 1, (size_t)(close - open - 1));
        if ((err = wp_buf_add(b, p, (size_t)(open - p))) < 0)
            break;
        err = v ? wp_buf_adds(b, v) : wp_buf_add(b, open, (size_t)(close - open + 1));
        p = close + 1;
    }
    return err;
}

/* Where a line's strings are in x->text while it still grows. */
struct pending {
    size_t text, url; /* offsets; (size_t)-1 when none */
};

static int parse_line(struct wp_sim__exchange *x, struct pending *pd, const char *line,
                      size_t len, const struct slots *ss, const struct violation *v,
                      wp_sim_rng *r)
{
    struct wp_sim__line *l = &x->lines[x->n];
    int err;
    memset(l, 0, sizeof *l);
    pd->text = pd->url = (size_t)-1;
    l->out = line[0] == '>';
    l->channel = "wechat";
    l->msgtype = "text";
    line++, len--;
    if (len && line[0] == '!') {
        l->violation = v ? v->category : "unknown";
        l->must_alert = v ? v->must_alert : 1;
        line++, len--;
    }
    /* expand first: amounts and titles hold slots too */
    size_t at = x->text.len;
    if ((err = expand(&x->text, line, len, ss)) < 0 || (err = wp_buf_addc(&x->text, '\0')) < 0)
        return err;
    char *s = x->text.buf + at;
    if (strncmp(s, "@sms ", 5) == 0) {
        l->channel = "sms";
        pd->text = at + 5;
    } else if (strncmp(s, "@link ", 6) == 0) {
        char *bar = strchr(s, '|');
        l->msgtype = "link";
        pd->text = at + 6;
        if (bar) {
            *bar = '\0';
            char url[128];
            snprintf(url, sizeof url, "https://m.dingsheng.example/%s/%06u", bar + 1,
                     (unsigned)wp_sim_rng_below(r, 1000000));
            pd->url = x->text.len;
            if ((err = wp_buf_add(&x->text, url, strlen(url) + 1)) < 0)
                return err;
        }
    } else if (strncmp(s, "@transfer ", 10) == 0 || strncmp(s, "@redpacket ", 11) == 0) {
        int transfer = s[1] == 't';
        char *num = s + (transfer ? 10 : 11), *bar = strchr(num, '|');
        l->msgtype = transfer ? "transfer" : "redpacket";
        l->amount_fen = (int64_t)(strtod(num, NULL) * 100 + 0.5);
        pd->text = bar ? at + (size_t)(bar + 1 - s) : (size_t)-1;
    } else {
        pd->text = at;
    }
    x->n++;
    return 0;
}

static int was_used(const struct wp_sim__exchange *x, const char *script)
{
    size_t n = x->n_used < N(x->used) ? x->n_used : N(x->used);
    for (size_t i = 0; i < n; i++)
        if (x->used[i] == script)
            return 1;
    return 0;
}

int wp_sim__talk(struct wp_sim__exchange *x, const wp_sim_company *c, size_t k,
                 enum wp_sim__script kind, unsigned stage, wp_sim_rng *r)
{
    const wp_sim_customer *cu = &c->customers[k];
    enum wp_sim_trade trade = c->units[c->people[cu->owner].unit].trade;
    const struct trade_talk *tt = &talks[trade];
    const struct violation *v = NULL;
    const char *script;
    struct slots ss;
    struct pending pd[WP_SIM__LINES_MAX];
    int err = 0;

    const char *const *list;
    size_t n_list;
    switch (kind) {
    case WP_SIM__OPENING:
        list = tt->stages[0], n_list = tt->n_stages[0];
        break;
    case WP_SIM__STAGE:
        stage = stage < 1 ? 1 : stage >= WP_SIM__STAGES ? WP_SIM__STAGES - 1 : stage;
        list = tt->stages[stage], n_list = tt->n_stages[stage];
        break;
    case WP_SIM__CHECKIN:
        list = tt->checkin, n_list = tt->n_checkin;
        break;
    case WP_SIM__VIOLATION:
    default:
        v = pick_violation(trade, r);
        list = &v->script, n_list = 1;
        break;
    }
    /* a few draws to find something this customer has not heard lately */
    script = list[wp_sim_rng_below(r, (uint32_t)n_list)];
    for (int tries = 0; tries < 6 && was_used(x, script); tries++)
        script = list[wp_sim_rng_below(r, (uint32_t)n_list)];
    x->used[x->n_used++ % N(x->used)] = script;
    fill_slots(&ss, c, k, r);
    wp_buf_reset(&x->text);
    x->n = 0;
    for (const char *p = script; *p && x->n < WP_SIM__LINES_MAX;) {
        size_t len = strcspn(p, "\n");
        if (len > 1 && (p[0] == '>' || p[0] == '<') &&
            (err = parse_line(x, &pd[x->n], p, len, &ss, v, r)) < 0)
            return err;
        p += len + (p[len] == '\n');
    }
    for (size_t i = 0; i < x->n; i++) {
        x->lines[i].text = pd[i].text == (size_t)-1 ? NULL : x->text.buf + pd[i].text;
        x->lines[i].url = pd[i].url == (size_t)-1 ? NULL : x->text.buf + pd[i].url;
    }
    return 0;
}

double wp_sim__talk_mean_lines(enum wp_sim_trade t)
{
    const struct trade_talk *tt = &talks[t];
    size_t lines = 0, scripts = 0;
    for (unsigned s = 1; s < WP_SIM__STAGES; s++)
        for (size_t i = 0; i < tt->n_stages[s]; i++, scripts++)
            for (const char *p = tt->stages[s][i]; p; p = strchr(p + 1, '\n'))
                lines++;
    return scripts ? (double)lines / (double)scripts : 1;
}
