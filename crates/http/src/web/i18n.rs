//! The web pages' words in English and Persian. English is the default; `?lang=fa` switches to
//! Persian (right to left) and is remembered. How numbers, months and dates are written in each
//! language is `saghat_core::platform::lang`.

pub use saghat_core::platform::lang::{normalize_number, plain, Lang};

/// The UI's text in a language.
pub trait UiText {
    /// The UI text for `key`; `?` (and a warning in the log) if there is none. A test checks
    /// that every key the templates use has both languages.
    fn t(self, key: &str) -> &'static str;
}

impl UiText for Lang {
    fn t(self, key: &str) -> &'static str {
        match TEXTS.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, fa)) => match self {
                Lang::En => en,
                Lang::Fa => fa,
            },
            None => {
                tracing::warn!(key, "untranslated UI text");
                "?"
            }
        }
    }
}

/// (key, English, Persian).
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("app_name", "Saghat", "Saghat"),
    ("app_tagline", "Cooperative loan fund", "صندوق وام دوستانه"),
    ("skip", "Skip to content", "رفتن به محتوا"),
    ("nav", "Main", "اصلی"),
    ("dashboard", "My account", "حساب من"),
    ("fund", "Fund", "صندوق"),
    ("members", "Members", "اعضا"),
    ("config", "Settings", "تنظیمات"),
    ("loan_history", "Loan history", "تاریخچه وام‌ها"),
    ("sign_in", "Sign in", "ورود"),
    ("sign_out", "Sign out", "خروج"),
    ("signed_in_as", "Signed in as", "واردشده با"),
    ("username", "Username", "نام کاربری"),
    ("password", "Password", "گذرواژه"),
    ("sign_in_title", "Sign in to the fund", "ورود به صندوق"),
    ("other_lang", "فارسی", "English"),
    ("other_lang_code", "fa", "en"),
    ("usdt", "USDT", "تتر"),
    (
        "balance",
        "Balance (fees paid)",
        "موجودی (حق عضویت پرداختی)",
    ),
    ("loan_request", "Loan request", "مبلغ درخواستی وام"),
    ("this_month", "This month", "این ماه"),
    ("paid", "Paid", "پرداخت شده"),
    ("not_paid", "Not paid yet", "هنوز پرداخت نشده"),
    ("due", "Due this month", "بدهی این ماه"),
    ("fee", "Membership fee", "حق عضویت"),
    ("installment", "Loan installment", "قسط وام"),
    ("at_least", "at least", "دست‌کم"),
    ("current_loan", "Current loan", "وام جاری"),
    (
        "no_current_loan",
        "You have no loan to repay.",
        "وامی برای بازپرداخت ندارید.",
    ),
    ("loan_amount", "Loan amount", "مبلغ وام"),
    ("total_paid", "Total paid", "جمع پرداخت‌شده"),
    ("remaining", "Remaining", "مانده"),
    ("repaid_progress", "Repaid", "بازپرداخت‌شده"),
    ("my_payments", "My payments", "پرداخت‌های من"),
    ("my_loans", "My loans", "وام‌های من"),
    ("no_payments", "No payments yet.", "هنوز پرداختی ندارید."),
    ("no_loans", "No loans yet.", "هنوز وامی نگرفته‌اید."),
    ("month", "Month", "ماه"),
    ("date", "Date", "تاریخ"),
    ("amount", "Amount", "مبلغ"),
    ("total", "Total", "جمع"),
    ("repayment", "Loan repayment", "بازپرداخت وام"),
    ("bitpin_id", "Bitpin payment id", "شناسه پرداخت بیت‌پین"),
    ("state", "State", "وضعیت"),
    ("state_active", "Being repaid", "در حال بازپرداخت"),
    ("state_settled", "Settled", "تسویه‌شده"),
    ("state_no_one", "No winner", "بدون برنده"),
    ("pay_title", "Pay this month", "پرداخت این ماه"),
    (
        "pay_help",
        "Send the money with Bitpin first, then enter the payment id it gave you.",
        "ابتدا مبلغ را با بیت‌پین بفرستید و سپس شناسه پرداخت را وارد کنید.",
    ),
    ("pay_button", "Submit payment", "ثبت پرداخت"),
    (
        "loan_request_optional",
        "New loan request (optional)",
        "مبلغ جدید درخواست وام (اختیاری)",
    ),
    (
        "loan_request_help",
        "What you ask for in the coming draws; 0 opts out.",
        "مبلغی که در قرعه‌کشی‌های بعدی می‌خواهید؛ صفر یعنی شرکت نمی‌کنید.",
    ),
    (
        "already_paid",
        "You have paid for this month.",
        "پرداخت این ماه شما ثبت شده است.",
    ),
    (
        "change_loan_request",
        "Change loan request",
        "تغییر مبلغ درخواستی وام",
    ),
    ("save", "Save", "ذخیره"),
    ("notifications", "Notifications", "اعلان‌ها"),
    (
        "notify_intro",
        "How the fund tells you about your payments, the draw and your loan.",
        "صندوق چگونه شما را از پرداخت‌ها، قرعه‌کشی و وامتان باخبر کند.",
    ),
    ("notify_language", "Language of messages", "زبان پیام‌ها"),
    ("notify_channels", "Send me messages by", "پیام‌ها را بفرست با"),
    ("notify_email", "E-mail", "ایمیل"),
    ("notify_sms", "SMS", "پیامک"),
    ("notify_whatsapp", "WhatsApp", "واتس‌اپ"),
    ("notify_email_address", "E-mail address", "نشانی ایمیل"),
    ("notify_mobile", "Mobile number", "شماره موبایل"),
    (
        "notify_mobile_help",
        "Such as 09121234567 or +989121234567",
        "مانند ۰۹۱۲۱۲۳۴۵۶۷ یا \u{2066}+۹۸۹۱۲۱۲۳۴۵۶۷\u{2069}",
    ),
    (
        "notify_reminders",
        "Remind me to pay each month",
        "هر ماه پرداخت را یادآوری کن",
    ),
    (
        "notify_always",
        "You are always told when your payment is recorded, when the draw has run and when your loan is settled.",
        "ثبت پرداخت، نتیجه‌ی قرعه‌کشی و تسویه‌ی وام همیشه به شما اطلاع داده می‌شود.",
    ),
    (
        "notify_bad_language",
        "Choose Persian or English",
        "فارسی یا انگلیسی را انتخاب کنید",
    ),
    (
        "notify_bad_email",
        "Enter a valid e-mail address (e-mail messages need one)",
        "یک نشانی ایمیل درست وارد کنید (پیام ایمیلی به آن نیاز دارد)",
    ),
    (
        "notify_bad_mobile",
        "Enter a mobile number such as 09121234567 (SMS and WhatsApp need one)",
        "یک شماره موبایل مانند ۰۹۱۲۱۲۳۴۵۶۷ وارد کنید (پیامک و واتس‌اپ به آن نیاز دارند)",
    ),
    (
        "notify_bad_channels",
        "Choose among e-mail, SMS and WhatsApp",
        "از میان ایمیل، پیامک و واتس‌اپ انتخاب کنید",
    ),
    (
        "done_notifications",
        "Your notification settings were saved.",
        "تنظیمات اعلان‌های شما ذخیره شد.",
    ),
    (
        "done_paid",
        "Your payment was recorded.",
        "پرداخت شما ثبت شد.",
    ),
    (
        "done_loan_request",
        "Your loan request was saved.",
        "مبلغ درخواستی شما ذخیره شد.",
    ),
    ("done_draw", "The draw has run.", "قرعه‌کشی انجام شد."),
    (
        "done_member",
        "The member was created.",
        "عضو جدید ساخته شد.",
    ),
    (
        "done_config",
        "The settings were saved.",
        "تنظیمات ذخیره شد.",
    ),
    (
        "who_paid",
        "Who has paid this month",
        "چه کسانی این ماه پرداخت کرده‌اند",
    ),
    ("member", "Member", "عضو"),
    ("paid_count", "paid", "پرداخت کرده‌اند"),
    ("of", "of", "از"),
    ("draw", "The draw", "قرعه‌کشی"),
    (
        "draw_done",
        "This month's draw has run.",
        "قرعه‌کشی این ماه انجام شده است.",
    ),
    (
        "draw_waiting",
        "The draw can start once every member has paid.",
        "قرعه‌کشی پس از پرداخت همه اعضا ممکن است.",
    ),
    (
        "draw_ready",
        "Everyone has paid: the draw can start.",
        "همه پرداخت کرده‌اند: قرعه‌کشی را می‌توان آغاز کرد.",
    ),
    ("start_draw", "Start the draw", "آغاز قرعه‌کشی"),
    ("last_draws", "Last draws", "آخرین قرعه‌کشی‌ها"),
    ("no_draws", "No draws yet.", "هنوز قرعه‌کشی نشده است."),
    ("winner", "Winner", "برنده"),
    ("nobody", "nobody", "هیچ‌کس"),
    (
        "participants",
        "Participants and their scores",
        "شرکت‌کنندگان و امتیازشان",
    ),
    ("score", "Score", "امتیاز"),
    ("unlimited", "unlimited", "نامحدود"),
    ("not_participating", "Did not take part", "شرکت نکردند"),
    ("reason", "Reason", "دلیل"),
    (
        "random_pool",
        "Random pool (winner drawn from)",
        "گروه قرعه (برنده از میان آنان)",
    ),
    ("note", "Note", "یادداشت"),
    ("in_pool", "In the pool", "در گروه قرعه"),
    ("chart_title", "The fund over time", "صندوق در گذر زمان"),
    ("cash", "Cash in the fund", "موجودی نقد صندوق"),
    ("contributions", "Contributions (fees)", "حق عضویت‌ها"),
    ("outstanding", "Outstanding loans", "وام‌های بازپرداخت‌نشده"),
    ("chart_numbers", "Show the numbers", "نمایش اعداد"),
    (
        "chart_empty",
        "No payments yet: nothing to chart.",
        "هنوز پرداختی نیست: نموداری برای نمایش نیست.",
    ),
    ("members_title", "Members", "اعضا"),
    ("name", "Name", "نام"),
    ("role", "Role", "نقش"),
    ("role_main", "Admin", "مدیر"),
    ("role_member", "Member", "عضو"),
    ("has_loan", "Active loan", "وام فعال"),
    ("yes", "Yes", "بله"),
    ("no", "No", "خیر"),
    ("create_member", "Create a member", "افزودن عضو"),
    ("first_name", "First name", "نام"),
    ("last_name", "Last name", "نام خانوادگی"),
    ("email", "E-mail", "ایمیل"),
    (
        "role_accountant",
        "Accountant (reads the books)",
        "حسابدار (مشاهده دفاتر)",
    ),
    (
        "role_lender",
        "Lender (reviews loan requests)",
        "وام‌دهنده (بررسی درخواست‌های وام)",
    ),
    ("create", "Create", "ساختن"),
    ("config_title", "Fund settings", "تنظیمات صندوق"),
    ("min_fee", "Minimum membership fee", "کمترین حق عضویت"),
    (
        "max_months",
        "Months to repay a loan",
        "مدت بازپرداخت وام (ماه)",
    ),
    (
        "min_installment",
        "Minimum loan installment",
        "کمترین قسط وام",
    ),
    ("filters", "Filters", "فیلترها"),
    ("year_after", "Year after", "سال بعد از"),
    ("year_before", "Year before", "سال قبل از"),
    ("month_after", "Month after", "ماه بعد از"),
    ("month_before", "Month before", "ماه قبل از"),
    ("filter", "Filter", "اعمال"),
    ("clear", "Clear", "پاک کردن"),
    (
        "filters_help",
        "Jalali year and month number, compared separately (as the API does).",
        "سال و شماره ماه شمسی، جداگانه مقایسه می‌شوند (مانند API).",
    ),
    ("repayments", "Repayments", "بازپرداخت‌ها"),
    ("draw_log", "Draw log", "گزارش قرعه‌کشی"),
    (
        "forbidden",
        "Only the fund's admins may see this page.",
        "فقط مدیران صندوق به این صفحه دسترسی دارند.",
    ),
    (
        "error_summary",
        "Please correct the marked fields.",
        "لطفاً موارد مشخص‌شده را اصلاح کنید.",
    ),
    (
        "required",
        "This field is required.",
        "این فیلد الزامی است.",
    ),
    (
        "bad_amount",
        "Enter an amount such as 20 or 20.5 (at most 8 decimals).",
        "مبلغی مانند ۲۰ یا ۲۰٫۵ وارد کنید (حداکثر ۸ رقم اعشار).",
    ),
    (
        "bad_integer",
        "Enter a whole number.",
        "یک عدد صحیح وارد کنید.",
    ),
    (
        "must_be_positive",
        "Must be greater than 0.",
        "باید بیشتر از صفر باشد.",
    ),
    (
        "invalid_login",
        "Invalid username or password.",
        "نام کاربری یا گذرواژه نادرست است.",
    ),
    (
        "page_updates",
        "This list updates by itself.",
        "این فهرست خودکار به‌روز می‌شود.",
    ),
    ("error_title", "Error", "خطا"),
    (
        "error_400",
        "The request could not be understood. Go back and try again.",
        "درخواست قابل فهم نبود. برگردید و دوباره تلاش کنید.",
    ),
    (
        "error_401",
        "Your session has ended: sign in again.",
        "نشست شما پایان یافته است: دوباره وارد شوید.",
    ),
    (
        "error_403",
        "You may not open this page.",
        "اجازه دسترسی به این صفحه را ندارید.",
    ),
    (
        "error_csrf",
        "This form has expired or was not sent from this site: reload the page and try again.",
        "این فرم منقضی شده یا از این سایت ارسال نشده است: صفحه را دوباره بارگذاری و دوباره تلاش کنید.",
    ),
    (
        "error_404",
        "There is no such page.",
        "چنین صفحه‌ای وجود ندارد.",
    ),
    (
        "error_413",
        "What was sent is too large.",
        "آنچه فرستاده شد بیش از حد بزرگ است.",
    ),
    (
        "error_429",
        "Too many requests: wait a minute and try again.",
        "درخواست‌ها بیش از حد زیاد است: یک دقیقه صبر کنید و دوباره تلاش کنید.",
    ),
    (
        "error_500",
        "Something went wrong on our side. It has been logged; please try again later.",
        "مشکلی در سمت ما پیش آمد. ثبت شده است؛ لطفاً بعداً دوباره تلاش کنید.",
    ),
    (
        "error_503",
        "The fund is unavailable for a moment: try again shortly.",
        "صندوق لحظاتی در دسترس نیست: کمی بعد دوباره تلاش کنید.",
    ),
    ("back_to_account", "Back to my account", "بازگشت به حساب من"),
    ("fund_money", "The fund's money", "پول صندوق"),
    ("account", "Account", "حساب کاربری"),
    ("account_active", "Active", "فعال"),
    ("account_inactive", "Deactivated", "غیرفعال"),
    ("loan_owed", "Loan: owed / amount", "وام: مانده / مبلغ"),
    ("edit_member", "Edit member", "ویرایش عضو"),
    ("deactivate", "Deactivate", "غیرفعال کردن"),
    ("reactivate", "Reactivate", "فعال کردن دوباره"),
    (
        "deactivate_help",
        "A deactivated member can no longer sign in, pays no fees and is left out of draws; their history is kept.",
        "عضو غیرفعال دیگر نمی‌تواند وارد شود، حق عضویت نمی‌پردازد و در قرعه‌کشی شرکت نمی‌کند؛ سوابقش حفظ می‌شود.",
    ),
    (
        "reactivate_help",
        "This account is deactivated: reactivating lets the member sign in again.",
        "این حساب غیرفعال است: با فعال کردن دوباره، عضو می‌تواند دوباره وارد شود.",
    ),
    (
        "roles_help",
        "Admins are fund members too: they pay the monthly fee and take part in draws. Accountants read the books and pay nothing. Lenders review loan-request tickets and pay nothing.",
        "مدیران هم عضو صندوق‌اند: حق عضویت ماهانه می‌پردازند و در قرعه‌کشی شرکت می‌کنند. حسابداران فقط دفاتر را می‌بینند و پرداختی ندارند. وام‌دهندگان درخواست‌های وام را بررسی می‌کنند و پرداختی ندارند.",
    ),
    (
        "admins_pay",
        "Admins are fund members who pay: they pay the monthly fee and take part in the draw like every member. Accountants pay nothing.",
        "مدیران اعضای پرداخت‌کننده صندوق‌اند: مانند همه اعضا حق عضویت ماهانه می‌پردازند و در قرعه‌کشی شرکت می‌کنند. حسابداران پرداختی ندارند.",
    ),
    ("done_member_saved", "The member was saved.", "اطلاعات عضو ذخیره شد."),
    ("done_deactivated", "The member was deactivated.", "عضو غیرفعال شد."),
    ("done_reactivated", "The member was reactivated.", "عضو دوباره فعال شد."),
    (
        "done_password_reset",
        "The password was reset; the member's sessions were signed out.",
        "گذرواژه بازنشانی شد؛ نشست‌های عضو بسته شد.",
    ),
    ("draw_this_month", "This month's draw", "قرعه‌کشی این ماه"),
    (
        "draw_takes_part",
        "You take part in this month's draw, asking for",
        "شما در قرعه‌کشی این ماه شرکت دارید، با درخواست",
    ),
    (
        "draw_when_all_paid",
        "The draw starts once every member has paid.",
        "قرعه‌کشی پس از پرداخت همه اعضا آغاز می‌شود.",
    ),
    (
        "draw_excluded",
        "You do not take part in this month's draw.",
        "شما در قرعه‌کشی این ماه شرکت ندارید.",
    ),
    (
        "why_active_loan",
        "You are still repaying a loan: you take part again once it is repaid.",
        "هنوز در حال بازپرداخت وام هستید: پس از تسویه دوباره شرکت می‌کنید.",
    ),
    (
        "why_no_request",
        "Your loan request is 0, which means you opt out.",
        "مبلغ درخواستی وام شما صفر است، یعنی شرکت نمی‌کنید.",
    ),
    (
        "why_above_balance",
        "Your loan request is above your balance (the fees you have paid).",
        "مبلغ درخواستی وام شما از موجودی‌تان (حق عضویت‌های پرداختی) بیشتر است.",
    ),
    (
        "why_other",
        "The draw's rules leave you out this month.",
        "قواعد قرعه‌کشی این ماه شما را کنار می‌گذارد.",
    ),
    (
        "draw_you_won",
        "This month's draw has run: you won it.",
        "قرعه‌کشی این ماه انجام شد: شما برنده شدید.",
    ),
    (
        "draw_not_won",
        "This month's draw has run: you did not win this time.",
        "قرعه‌کشی این ماه انجام شد: این بار برنده نشدید.",
    ),
    ("see_draw_log", "See the draw's log", "دیدن گزارش قرعه‌کشی"),
    ("schedule", "Repayment schedule", "برنامه بازپرداخت"),
    (
        "installments_left",
        "Installments left at the minimum",
        "اقساط باقی‌مانده با کمترین مبلغ",
    ),
    ("last_installment", "the last one", "آخرین قسط"),
    ("next_due", "Next installment due", "موعد قسط بعدی"),
    ("paid_off_by", "Repaid by", "تسویه تا"),
    (
        "schedule_help",
        "One installment a month with your fee; paying more repays the loan sooner.",
        "هر ماه یک قسط همراه حق عضویت؛ پرداخت بیشتر وام را زودتر تسویه می‌کند.",
    ),
    ("reason_active_loan", "Still repaying a loan", "هنوز در حال بازپرداخت وام"),
    (
        "reason_no_request",
        "Asked for no loan (request 0)",
        "وامی درخواست نکرده (مبلغ درخواستی صفر)",
    ),
    (
        "reason_request_above_balance",
        "Asked for more than their balance (fees paid)",
        "درخواست بیش از موجودی (حق عضویت‌های پرداختی)",
    ),
    (
        "score_help",
        "The highest score wins; members with equal scores are drawn at random. “unlimited” means no loan history yet: the highest priority. A score grows with the fees paid and the months paid without a loan repayment, and shrinks with the loans already received and repaid and with the amount asked for.",
        "بیشترین امتیاز برنده می‌شود؛ میان امتیازهای برابر به قید قرعه انتخاب می‌شود. «نامحدود» یعنی هنوز سابقه وام ندارد: بالاترین اولویت. امتیاز با حق عضویت‌های پرداختی و ماه‌های بدون بازپرداخت وام بیشتر، و با وام‌های دریافت و بازپرداخت‌شده و مبلغ درخواستی کمتر می‌شود.",
    ),
    ("waiting_for", "Waiting for", "در انتظار پرداخت"),
    (
        "scroll_hint",
        "↔ Scroll sideways to see every column.",
        "↔ برای دیدن همه ستون‌ها جدول را به پهلو بکشید.",
    ),
    ("reset_password", "Reset the password", "بازنشانی گذرواژه"),
    ("new_password", "New password", "گذرواژه جدید"),
    (
        "reset_password_help",
        "At least 8 characters. Tell the member yourself; all their sessions are signed out.",
        "دست‌کم ۸ نویسه. خودتان به عضو بگویید؛ همه نشست‌های او بسته می‌شود.",
    ),
    ("jobs", "Jobs", "کارها"),
    ("jobs_title", "Background jobs", "کارهای پس‌زمینه"),
    (
        "jobs_help",
        "Work done outside a request (reminders, messages, housekeeping). A job that failed all its attempts is set aside as failed: run it again once its cause is fixed, or discard it.",
        "کارهایی که بیرون از درخواست‌ها انجام می‌شوند (یادآوری‌ها، پیام‌ها، نگهداری). کاری که همه تلاش‌هایش ناموفق بوده کنار گذاشته می‌شود: پس از رفع علت دوباره اجرایش کنید یا دورش بیندازید.",
    ),
    ("jobs_queue", "The queue", "صف"),
    ("jobs_oldest_wait", "Oldest job waiting to run", "قدیمی‌ترین کار در انتظار اجرا"),
    ("jobs_none_waiting", "none", "هیچ"),
    ("jobs_empty", "No jobs in this state.", "کاری در این وضعیت نیست."),
    ("jobs_pages", "Pages of jobs", "صفحه‌های کارها"),
    ("jobs_newer", "← Newer", "→ جدیدتر"),
    ("jobs_older", "Older →", "قدیمی‌تر ←"),
    ("job_state_pending", "Pending", "معلق"),
    ("job_state_scheduled", "Scheduled", "زمان‌بندی‌شده"),
    ("job_state_available", "Waiting to run", "در انتظار اجرا"),
    ("job_state_running", "Running", "در حال اجرا"),
    ("job_state_retryable", "Will retry", "در انتظار تلاش دوباره"),
    ("job_state_completed", "Done", "انجام‌شده"),
    ("job_state_cancelled", "Cancelled", "لغوشده"),
    ("job_state_discarded", "Failed", "ناموفق"),
    ("job_kind", "Kind", "نوع"),
    ("job_attempts", "Attempts", "تلاش‌ها"),
    ("job_when", "Last change", "آخرین تغییر"),
    ("job_created", "Created", "ایجاد"),
    ("job_last_error", "Last error", "آخرین خطا"),
    ("job_args", "Arguments", "ورودی‌ها"),
    ("job_retry", "Retry now", "اجرای دوباره"),
    ("job_discard", "Discard", "دور انداختن"),
    (
        "job_discard_confirm",
        "Discard this job for good? It will not run again.",
        "این کار برای همیشه دور انداخته شود؟ دیگر اجرا نخواهد شد.",
    ),
    ("job_running", "The job is running; wait until its attempt ends.", "این کار در حال اجراست؛ صبر کنید تا تلاشش تمام شود."),
    ("job_not_found", "That job no longer exists.", "آن کار دیگر وجود ندارد."),
    ("done_job_retried", "The job will run again shortly.", "کار به‌زودی دوباره اجرا می‌شود."),
    ("done_job_discarded", "The job was discarded.", "کار دور انداخته شد."),
    ("unit_seconds", "seconds", "ثانیه"),
    ("unit_minutes", "minutes", "دقیقه"),
    ("unit_hours", "hours", "ساعت"),
    ("unit_days", "days", "روز"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_templates_use_is_translated() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut missing = vec![];
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split("t(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                if !TEXTS.iter().any(|(k, _, _)| *k == key) {
                    missing.push(key.to_string());
                }
            }
        }
        assert!(missing.is_empty(), "untranslated keys: {missing:?}");
        let mut keys: Vec<_> = TEXTS.iter().map(|(k, _, _)| k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), TEXTS.len(), "duplicate keys");
    }
}
