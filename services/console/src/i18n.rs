//! English and Simplified Chinese: one catalog of every string the console
//! shows, chosen per user (at sign-in, or by the toggle, kept in the session).

/// A user's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and forms.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }

    /// Parses a tag as the forms send it; anything unknown is `None`.
    pub fn parse(tag: &str) -> Option<Self> {
        match tag {
            "en" => Some(Lang::En),
            "zh" | "zh-Hans" | "zh-CN" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The other language (the toggle).
    pub fn other(self) -> Self {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

/// One message in both languages.
#[derive(Clone, Copy, Debug)]
pub struct Msg {
    en: &'static str,
    zh: &'static str,
}

impl Msg {
    /// The message in `lang`.
    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Zh => self.zh,
        }
    }
}

macro_rules! catalog {
    ($($name:ident = $en:literal, $zh:literal;)*) => {
        $(#[allow(missing_docs)] pub const $name: Msg = Msg { en: $en, zh: $zh };)*
        /// Every message, for the completeness test.
        pub const ALL: &[Msg] = &[$($name),*];
    };
}

catalog! {
    APP = "leadwheel console", "leadwheel 控制台";
    LANG_NAME = "English", "简体中文";
    SWITCH_LANG = "中文", "English";
    SWITCH_LANG_LABEL = "Switch language to Chinese", "切换为英文";
    SIGN_IN = "Sign in", "登录";
    SIGN_OUT = "Sign out", "退出";
    SIGN_IN_AS = "Sign in as", "登录身份";
    LINK_CONTINUE = "Continue", "继续";
    LINK_CONFIRM_NOTE = "This sign-in link works once: continue to use it.", "此登录链接仅可使用一次，点击继续即登录。";
    DEV_SIGN_IN_NOTE = "Development mode: pick who you are.", "开发模式：请选择身份。";
    LANGUAGE = "Language", "语言";
    SIGNED_IN_AS = "Signed in as", "当前用户";
    ROLE_REP = "rep", "销售";
    ROLE_MANAGER = "manager", "经理";
    ROLE_ADMIN = "admin", "管理员";
    NAV_OFFERS = "Offers", "线索推送";
    NAV_POOL = "Open pool", "公海池";
    NAV_LEADS = "My leads", "我的线索";
    NAV_BOARD = "Team board", "团队看板";
    LIVE_OFFER = "Live offers", "实时推送";
    NO_OFFER = "No offer right now. New offers appear here at once.", "暂无推送，新线索会立即显示在这里。";
    CONNECTING = "Connecting…", "连接中…";
    NOTIFY = "Notify me of new offers, with a sound", "新推送时通知我（含提示音）";
    NOTIFY_ON = "Notifications on", "通知已开启";
    NEW_OFFER = "New lead offered to you", "有新线索推送给你";
    RECONNECTING = "Connection lost, reconnecting…", "连接中断，正在重连…";
    SECONDS_LEFT = "s left", "秒";
    TIME_UP = "Time is up", "时间到";
    TIER = "Tier", "等级";
    COMPANY = "Company", "公司";
    SOURCE = "Source", "来源";
    SCORE = "Score", "评分";
    CONTACT = "Contact", "联系人";
    WHY_YOU = "Why you", "为何推送给你";
    STEP_IN_LAP = "offer in this lap", "本轮第几次推送";
    CLAIM = "Claim", "认领";
    PASS = "Pass", "放弃";
    PASS_REASON = "Reason for passing", "放弃原因";
    CLAIMED = "Claimed: it is yours.", "已认领，归你跟进。";
    OPEN_LEAD = "Open the lead", "查看线索";
    PASSED = "Passed", "已放弃";
    MISSED = "Missed: the window closed before you claimed it.", "已错过：窗口期已结束。";
    WITHDRAWN = "Withdrawn by a manager", "已被经理撤回";
    POOL_EMPTY = "The pool is empty.", "公海池为空。";
    POOLED_AT = "Pooled at", "进入公海时间";
    CLAIMED_FROM_POOL = "Claimed from the pool: it is yours.", "已从公海认领。";
    LEADS_EMPTY = "No leads in work.", "暂无跟进中的线索。";
    LEAD = "Lead", "线索";
    STATUS = "Status", "状态";
    CLAIMED_AT = "Claimed at", "认领时间";
    TOUCHES = "Touches", "跟进次数";
    NEXT_FOLLOW_UP = "Next follow-up", "下次跟进";
    OWNER = "Owner", "负责人";
    TEAM = "Team", "团队";
    ACCOUNT = "Account", "客户";
    OPPORTUNITY = "Opportunity", "商机";
    NONE = "none", "无";
    BACK = "Back", "返回";
    ERROR = "Something went wrong", "出错了";
    FORBIDDEN = "You may not see this.", "你无权查看此内容。";
    NOT_FOUND = "Not found.", "未找到。";
    REP = "Rep", "销售";
    AVAILABILITY = "Availability", "状态";
    AVAILABLE = "available", "在线";
    AWAY = "away", "离开";
    AT_CAPACITY = "at capacity", "已满额";
    OFF_SHIFT = "off shift", "非工作时间";
    OPEN_OFFERS = "Offers in flight", "进行中的推送";
    ASSIGNED = "Leads in work", "跟进中";
    CAPACITY = "Capacity", "容量";
    TIME_LEFT = "Time left", "剩余时间";
    NO_OFFERS_IN_FLIGHT = "No offers in flight.", "暂无进行中的推送。";
    OFFERS_SHOWN = "Soonest deadlines shown:", "按截止时间最近显示：";
    POOL_SHOWN = "Longest pooled shown:", "按入池时间最早显示：";
    OFFERS_PER_REP = "each rep's offers are counted in the table above.", "每位销售的推送数见上表。";
    ASSIGN = "Assign", "分配";
    ASSIGN_TO = "Assign to", "分配给";
    ASSIGNED_TO = "Assigned to", "已分配给";
    REPS = "Reps", "销售人员";
    NO_TEAM = "You are not in a team yet.", "你还没有加入团队。";
    LINK_INVALID = "This sign-in link is invalid, expired or already used.", "登录链接无效、已过期或已被使用。";
    CSRF_REFUSED = "Refused: the form's security token is missing or wrong. Reload the page and try again.", "已拒绝：表单安全令牌缺失或错误，请刷新页面后重试。";
    // rep screens: lead actions, my opportunities, my alerts, my numbers
    OPEN_OPPORTUNITY = "Open the opportunity", "查看商机";
    LOG_ACTIVITY = "Log an activity", "记录跟进";
    ACTIVITY_KIND = "Kind", "类型";
    KIND_CALL = "Call", "电话";
    KIND_EMAIL = "Email", "邮件";
    KIND_VISIT = "Visit", "拜访";
    KIND_MEETING = "Meeting", "会议";
    KIND_NOTE = "Note", "备注";
    DURATION = "Duration", "时长";
    OUTCOME = "Outcome", "结果";
    RECORDING_URL = "Recording link", "录音链接";
    CALL_NOTES = "Notes at times in the recording, one a line (e.g. 1:30 pricing)", "录音时间点备注，每行一条（如 1:30 价格）";
    SUBJECT = "Subject", "主题";
    BODY = "Details", "详情";
    LOG = "Log it", "记录";
    SET_FOLLOW_UP = "Next follow-up", "设置下次跟进";
    EMPTY_CLEARS = "(empty clears it)", "（留空则清除）";
    CONVERT = "Convert to an opportunity", "转化为商机";
    ACCOUNT_NAME = "Company (account)", "公司（客户）";
    DOMAINS = "Domains, comma-separated", "域名（逗号分隔）";
    OPPORTUNITY_NAME = "Opportunity name (default: the company)", "商机名称（默认为公司名）";
    CURRENCY = "Currency", "币种";
    EXPECTED_CLOSE = "Expected close date", "预计成交日期";
    FIRST_OPEN_STAGE = "The first open stage", "第一个进行中阶段";
    DISQUALIFY = "Disqualify", "判定无效";
    HAND_BACK = "Hand back", "退回公海";
    HAND_BACK_BUTTON = "Hand back to the pool", "退回公海池";
    HAND_BACK_NOTE = "Another rep of the team can take it from the open pool.", "团队其他销售可从公海池认领。";
    REASON = "Reason", "原因";
    NOTE = "Note", "说明";
    HISTORY = "History", "跟进记录";
    NO_HISTORY = "Nothing yet.", "暂无记录。";
    NAV_OPPS = "My opportunities", "我的商机";
    OPPS_EMPTY = "No opportunities yet.", "暂无商机。";
    PROBABILITY = "Probability", "赢单概率";
    FORECAST_CATEGORY = "Forecast category", "预测类别";
    CAT_PIPELINE = "Pipeline", "管道";
    CAT_BEST_CASE = "Best case", "最佳情况";
    CAT_COMMIT = "Commit", "承诺";
    CAT_CLOSED = "Closed", "已成交";
    CAT_OMITTED = "Omitted", "不计入";
    CAT_DEFAULT = "The stage's default", "按阶段默认";
    STALE = "stale", "停滞";
    MOVE_STAGE = "Move to a stage", "推进阶段";
    REASON_TO_CLOSE = "(needed to close as won or lost)", "（赢单或输单时必填）";
    MOVE = "Move", "推进";
    AMOUNT_AND_CLOSE = "Amount and expected close", "金额与预计成交";
    STAGE_HISTORY = "Stage history", "阶段历史";
    NAV_ALERTS = "Alerts", "提醒";
    ALERT = "Alert", "提醒详情";
    NO_ALERTS = "No alerts. New ones appear here at once.", "暂无提醒，新提醒会立即显示在这里。";
    SHOW_RESOLVED = "Show resolved alerts", "查看已解除的提醒";
    SHOW_ACTIVE = "Show active alerts", "查看当前提醒";
    ALERT_OPEN = "open", "待处理";
    ALERT_ACKNOWLEDGED = "acknowledged", "已确认";
    ALERT_SNOOZED = "snoozed", "已暂缓";
    ALERT_RESOLVED = "resolved", "已解除";
    RAISED_AT = "Raised at", "触发时间";
    ABOUT = "About", "对象";
    TOLD = "Told", "已通知";
    ESCALATED = "Escalation level", "升级级别";
    SNOOZED_UNTIL = "Snoozed until", "暂缓至";
    ACKNOWLEDGE = "Acknowledge", "确认";
    SNOOZE = "Snooze", "暂缓";
    SNOOZE_FOR = "Snooze for", "暂缓时长";
    SNOOZE_UNTIL = "…or until (your local time)", "…或暂缓至（本地时间）";
    FOR_15_MIN = "15 minutes", "15 分钟";
    FOR_1_HOUR = "1 hour", "1 小时";
    FOR_4_HOURS = "4 hours", "4 小时";
    FOR_1_DAY = "1 day", "1 天";
    NAV_NUMBERS = "My numbers", "我的业绩";
    FIVE_QUESTIONS = "The five questions", "五个问题";
    THIS_WEEK = "This week", "本周";
    LAST_WEEK = "Last week", "上周";
    CALLS_MADE = "Calls made", "拨打电话";
    OPPS_CREATED = "Opportunities created", "新建商机";
    PURCHASE_INTENTS = "Purchase intents", "购买意向";
    DEALS_WON = "Deals won", "赢单数";
    WON_VALUE = "Won value", "赢单金额";
    AVERAGE_DEAL = "Average deal size", "平均客单价";
    THIS_MONTH = "Attainment this month", "本月达成";
    THIS_QUARTER = "Attainment this quarter", "本季度达成";
    NO_QUOTA = "no quota", "未设指标";
    WEIGHTED_OPEN = "Weighted open", "加权在途";
    FORECAST_VS_QUOTA = "Forecast vs quota", "预测/指标";
    NO_NUMBERS = "No deals or quota in this period.", "本期暂无商机或指标。";
    UNSCHEDULED = "Open deals without an expected close date", "未设预计成交日期的商机";
    // manager screens: charts, team settings, routing rules, handover
    NAV_CHARTS = "Charts", "图表";
    NAV_TEAM = "Team settings", "团队设置";
    NAV_HANDOVER = "Handover", "离职交接";
    PERIOD = "Period", "周期";
    PERIOD_DAY = "Any day in it", "周期内任一天";
    PERIOD_WEEK = "Week", "周";
    PERIOD_MONTH = "Month", "月";
    PERIOD_QUARTER = "Quarter", "季度";
    PERIOD_YEAR = "Year", "年";
    ALL_REPS = "All reps", "全部销售";
    SHOW = "Show", "查看";
    DOWNLOAD_CSV = "Download CSV", "下载 CSV";
    CHART_PIPELINE = "Pipeline by stage and rep (open now)", "按阶段和销售的管道（当前未结）";
    CHART_FORECAST = "Forecast vs quota per rep", "各销售预测与配额对比";
    CHART_FAIRNESS = "Fairness: offers, claims, passes, expiries", "公平性：推送、认领、放弃、超时";
    CHART_SPEED = "Speed to lead", "线索响应速度";
    CHART_TABLE_NOTE = "the same numbers are in the table below", "相同数据见下表";
    NO_DATA = "Nothing in this period.", "该周期内暂无数据。";
    AMOUNT = "Amount", "金额";
    WEIGHTED = "Weighted", "加权金额";
    CLOSED_IN_PERIOD = "Closed in", "成交/丢单周期";
    WON = "Won", "赢单";
    LOST = "Lost", "丢单";
    QUOTA = "Quota", "配额";
    FORECAST = "Forecast", "预测";
    ATTAINMENT = "attainment", "达成率";
    OFFERS = "Offers", "推送数";
    CLAIMS = "Claims", "认领数";
    PASSES = "Passes", "放弃数";
    EXPIRIES = "Expiries", "超时数";
    EVENNESS = "First-look evenness", "首推均衡度";
    FIRST_LOOKS = "first looks", "次首推";
    MEDIAN = "Median", "中位数";
    P90 = "90th percentile", "90 分位";
    SPEED_SYSTEM = "Signup → first offer", "注册 → 首次推送";
    SPEED_OFFER_TO_CLAIM = "Offer → claim", "推送 → 认领";
    SPEED_CLAIM_TO_TOUCH = "Claim → first touch", "认领 → 首次跟进";
    SAVE = "Save", "保存";
    SAVED = "Saved.", "已保存。";
    TEAM_NAME = "Team name", "团队名称";
    WINDOW_MS = "Offer window (milliseconds)", "推送窗口（毫秒）";
    TIER_WINDOWS = "Windows by tier (e.g. A=30000, B=60000)", "按等级的窗口（如 A=30000, B=60000）";
    MEMBERS = "Members, in ring order", "成员（按轮转顺序）";
    MEMBERS_HINT = "One a line: id, name", "每行一位：ID, 姓名";
    PASS_REASONS = "Pass reasons", "放弃原因";
    PASS_REASONS_HINT = "One a line; none lets reps type any reason", "每行一个；留空则销售可自由填写";
    RANK = "Rank", "排名";
    TIME_ZONE = "Time zone", "时区";
    HOURS = "Working hours (e.g. mon-fri=09:00-17:00)", "工作时间（如 mon-fri=09:00-17:00）";
    DAYS_OFF = "Days off (YYYY-MM-DD, …)", "休息日（YYYY-MM-DD, …）";
    TIERS = "Tiers", "等级";
    REGIONS = "Countries taken", "负责国家";
    SAVE_SCHEDULE = "Save schedule", "保存排班";
    ROUTING_RULES = "Routing rules", "分配规则";
    ROUTING_RULES_NOTE = "First match wins. Only an admin may change them; the wheel checks every rule.", "按顺序首个匹配生效。仅管理员可修改，系统会校验每条规则。";
    RULES_VERSION = "Version", "版本";
    DEFAULT_TEAM = "Default team (no rule matches)", "默认团队（无规则匹配时）";
    NEW_RULE = "New rule", "新规则";
    RULE = "Rule", "规则";
    ORDER = "Order", "顺序";
    RULE_ID = "Rule id", "规则 ID";
    COUNTRIES = "Countries", "国家";
    SOURCES = "Sources", "来源渠道";
    SCORE_MIN = "Score from", "最低评分";
    SCORE_MAX = "Score to", "最高评分";
    DESCRIPTION = "Description", "说明";
    KEPT_CONDITIONS = "Other conditions, kept as they are", "其他条件（保持不变）";
    REMOVE_RULE = "Remove this rule", "删除此规则";
    SAVE_RULES = "Save the rules", "保存规则";
    TEST_ROUTING = "Test routing", "测试分配";
    EMAIL = "Email", "邮箱";
    ROUTED_TO = "Goes to team", "分配到团队";
    HANDOVER_NOTE = "Everything the leaving rep owns is listed for review; nothing moves until you apply.", "离职销售名下的所有线索和商机将列出供审核，应用前不会转移。";
    HANDOVER_STEP_PICK = "Pick who leaves and who takes over", "选择离职人员和接收人";
    HANDOVER_STEP_REVIEW = "Review and edit the items", "审核并调整条目";
    HANDOVER_STEP_APPLY = "Apply", "应用";
    HANDOVER_STEP_RESULT = "Result", "结果";
    LEAVER = "Leaving rep", "离职销售";
    SUCCESSOR = "Takes over", "接收人";
    LEADS_TO_SUCCESSOR = "Give the leads in work to them too (else back to the wheel)", "跟进中的线索也交给接收人（否则退回轮转）";
    START_HANDOVER = "Prepare the handover", "生成交接计划";
    HANDOVER_ITEMS = "Items", "条目";
    UNDECIDED = "Still to decide", "待决定";
    TASKS_DONE = "Handover tasks done", "交接任务完成";
    CREATED_AT = "Prepared", "创建";
    APPLIED_AT = "Applied", "应用时间";
    KIND = "Kind", "类型";
    STAGE = "Stage", "阶段";
    ACTION = "Action", "处理方式";
    ACTION_REASSIGN = "Give to a rep", "转给销售";
    ACTION_RETURN = "Back to the wheel", "退回轮转";
    ACTION_DECIDE = "Manager decides", "经理决定";
    TO_REP = "To", "转给";
    TASK_DUE_DAYS = "Handover tasks due in (days)", "交接任务期限（天）";
    APPLY_HANDOVER = "Apply the handover", "应用交接";
    // end of manager screens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages() {
        for msg in ALL {
            assert!(!msg.get(Lang::En).is_empty() && !msg.get(Lang::Zh).is_empty());
            assert_ne!(
                msg.get(Lang::En),
                msg.get(Lang::Zh),
                "{msg:?} is untranslated"
            );
        }
    }

    #[test]
    fn tags_round_trip() {
        for lang in [Lang::En, Lang::Zh] {
            assert_eq!(Lang::parse(lang.tag()), Some(lang));
            assert_eq!(lang.other().other(), lang);
        }
        assert_eq!(Lang::parse("fr"), None);
    }
}
