# Qiao's default policy: the decision document and what every action shares.
#
# The gateway queries data.qiao.decision once per call. Each action has its
# own set of refusals (access.rego, request.rego, pull.rego); only the set of
# the action asked for is evaluated. An action is allowed when its set is
# empty; an unknown action is refused. Reasons are fixed bilingual strings,
# "中文 / English", and never carry a value from the input.
package qiao

# The decision document the gateway reads. Every key is always present.
decision := {
	"allow": allow,
	"needs_approvals": needs_approvals,
	"mask": mask,
	"max_rows": max_rows,
	"max_pulls": max_pulls,
	"ttl_seconds": ttl_seconds,
	"reasons": reasons,
}

# What an allowed action is told, per action.
granted := {
	"dataset.push": "机构推送本机构数据集 / an agency pushes its own dataset",
	"request.create": "申请已受理，待审批 / request may be filed, awaiting approval",
	"request.approve": "审批人可审批该申请 / approver may approve this request",
	"request.deny": "审批人可驳回该申请 / approver may deny this request",
	"dataset.pull": "授权有效，可提取 / grant is valid, pull allowed",
	"audit.read": "审计员查阅审计日志 / auditor reads the audit log",
	"principal.manage": "管理员管理主体 / admin manages principals",
	"model.read": "模型读取其声明的数据集 / model reads a declared dataset",
	"lead.read": "检察院办案人员查阅线索 / procuratorate staff read leads",
}

# The refusals of the action asked for. The conditions are equalities on
# input.action, which OPA indexes: only the matching definition is tried.
default denials := {"未知操作 / unknown action"}

denials := push_denials | classification_denials if input.action == "dataset.push"

denials := (filing_denials | create_denials) | classification_denials if input.action == "request.create"

denials := (filing_denials | deciding_denials) | classification_denials if input.action == "request.approve"

denials := deciding_denials | classification_denials if input.action == "request.deny"

denials := pull_denials | classification_denials if input.action == "dataset.pull"

denials := audit_denials if input.action == "audit.read"

denials := manage_denials if input.action == "principal.manage"

denials := model_denials | classification_denials if input.action == "model.read"

denials := lead_denials if input.action == "lead.read"

allow := count(denials) == 0

reasons := [granted[input.action]] if allow

reasons := sort(denials) if not allow

# Limits. Rows per pull; a grant lives seven days unless the request asks
# for at most thirty; ten pulls unless the request asks for 1 to 100.
default_max_rows := 100000

default_ttl_seconds := 604800 # 7 days

longest_ttl_seconds := 2592000 # 30 days

default_max_pulls := 10

most_pulls := 100

# Every action on a dataset needs its classification.
classification_denials contains "数据集密级未知 / unknown dataset classification" if not known_classification

known_classification if input.resource.classification in {"internal", "sensitive"}

# Helpers. Each is defined only when true, so that `not helper` also holds
# when the input lacks the value: a missing value never lets a call through.
# Negate only helpers whose arguments are constants or variables: OPA hoists
# a reference argument (`not f(input.x)`, `not input.x in s`) out of the
# negation, and a missing value would then skip the refusal.

has_role(role) if role in input.subject.roles

is_kind(kind) if input.subject.kind == kind

nonblank(s) if {
	is_string(s)
	trim_space(s) != ""
}

resource_fields := {f.name | some f in input.resource.fields}

# The principal's agency kind: police for police.411528.
agency_kind := split(input.subject.principal, ".")[0]
