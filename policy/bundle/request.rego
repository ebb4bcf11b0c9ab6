# Access requests (request.create, request.approve, request.deny) and what
# they share with pulls: how many approvals data needs, how fields are
# masked, and the limits of a grant.
package qiao

# Actions that file a request or issue a grant from it: both need a
# complete, well-formed request.
filing_actions := {"request.create", "request.approve"}

# Actions by which an approver decides a request.
deciding_actions := {"request.approve", "request.deny"}

# The maskings a requester may ask for; "" means the default (partial).
maskings := {"", "partial", "token", "full"}

# request.create: a requester files a request in their own name.

denials contains "需要申请人角色 / requester role required" if {
	input.action == "request.create"
	not has_role("requester")
}

denials contains "只能以本人名义申请 / a request is filed in one's own name" if {
	input.action == "request.create"
	nonblank(input.request.requester)
	input.request.requester != input.subject.principal
}

# Filing or approving: the request must say why, under which law, for
# which case, and which fields, with limits in range.

denials contains "缺少用途 / purpose missing" if {
	input.action in filing_actions
	not justified("purpose")
}

denials contains "缺少法律依据 / legal basis missing" if {
	input.action in filing_actions
	not justified("legal_basis")
}

denials contains "缺少案号 / case number missing" if {
	input.action in filing_actions
	not justified("case_number")
}

denials contains "未申请任何字段 / no fields requested" if {
	input.action in filing_actions
	count([f | some f in input.request.fields]) == 0
}

denials contains "申请字段不属于该数据集 / a requested field is not in the dataset" if {
	input.action in filing_actions
	unknown_field(input.request.fields)
}

denials contains "申请字段重复 / a field is requested twice" if {
	input.action in filing_actions
	duplicate_field(input.request.fields)
}

denials contains "脱敏方式无效 / unknown masking requested" if {
	input.action in filing_actions
	bad_masking(input.request.fields)
}

denials contains "申请期限无效 / invalid duration" if {
	input.action in filing_actions
	not valid_duration
}

denials contains "申请期限超过30天 / duration longer than 30 days" if {
	input.action in filing_actions
	valid_duration
	requested_duration > longest_ttl_seconds
}

denials contains "提取次数超出范围(1至100) / max pulls out of range (1 to 100)" if {
	input.action in filing_actions
	not valid_pulls
}

justified(key) if nonblank(input.request[key])

# request.approve and request.deny: an approver who is not the requester
# decides a pending request once.

denials contains "需要审批人角色 / approver role required" if {
	input.action in deciding_actions
	not has_role("approver")
}

denials contains "申请人不能审批本人申请 / a requester cannot decide their own request" if {
	input.action in deciding_actions
	not decided_by_other
}

decided_by_other if {
	nonblank(input.request.requester)
	input.request.requester != input.subject.principal
}

denials contains "该审批人已处理此申请 / this approver already decided the request" if {
	input.action in deciding_actions
	some a in input.request.approvals
	a.approver == input.subject.principal
}

denials contains "申请不在待审批状态 / request is not pending" if {
	input.action in deciding_actions
	not pending
}

pending if input.request.state == "pending"

# Field lists: a request's fields or a grant's.

unknown_field(fields) if {
	some f in fields
	not known_field(f)
}

known_field(f) if f.field in resource_fields

duplicate_field(fields) if {
	some i, j
	fields[i].field == fields[j].field
	i != j
}

bad_masking(fields) if {
	some f in fields
	not known_masking(f)
}

known_masking(f) if f.masking in maskings

# Approvals: sensitive data, data asked for unmasked, or a dataset of
# unknown classification needs two distinct approvers; internal data one.

default needs_approvals := 0

needs_approvals := approvals_required if input.action in (request_actions | {"dataset.pull"})

approvals_required := 1 if {
	input.resource.classification == "internal"
	not asks_full
} else := 2

asks_full if {
	some f in input.request.fields
	f.masking == "full"
}

asks_full if {
	some f in input.request.grant.fields
	f.masking == "full"
}

# Masks: every field of the resource gets one. A request's or grant's field
# list decides: a field not listed, or listed twice, is dropped; a listed
# field that is not personal data goes out as is; personal data goes out
# partially masked (the default), as a token, or unmasked when "full" was
# asked and approved. A model reads personal data as tokens only.

masked_actions := data_actions - {"dataset.push"}

default mask := {}

mask := {name: field_mask(name) | some name in resource_fields} if input.action in masked_actions

masked_fields := input.request.fields if input.action in request_actions

masked_fields := input.request.grant.fields if input.action == "dataset.pull"

field_mask(name) := "token" if {
	input.action == "model.read"
	name in pii_fields
} else := "none" if {
	input.action == "model.read"
} else := "drop" if {
	count([f | some f in masked_fields; f.field == name]) != 1
} else := m if {
	some f in masked_fields
	f.field == name
	pii := name in pii_fields
	m := masking_of(pii, f.masking)
} else := "drop"

masking_of(false, _) := "none"

masking_of(true, "") := "partial"

masking_of(true, "partial") := "partial"

masking_of(true, "token") := "token"

masking_of(true, "full") := "none"

# Limits of the grant a request asks for: duration (0 = default) and pulls
# (0 = default). Values out of range are refused above and give 0 here.

default requested_duration := 0

requested_duration := input.request.duration_seconds

valid_duration if {
	is_number(requested_duration)
	requested_duration >= 0
	round(requested_duration) == requested_duration
}

request_ttl := default_ttl_seconds if requested_duration == 0

request_ttl := requested_duration if {
	valid_duration
	requested_duration > 0
	requested_duration <= longest_ttl_seconds
}

default requested_pulls := 0

requested_pulls := input.request.max_pulls

valid_pulls if requested_pulls == 0

valid_pulls if {
	is_number(requested_pulls)
	requested_pulls >= 1
	requested_pulls <= most_pulls
	round(requested_pulls) == requested_pulls
}

request_pulls := default_max_pulls if requested_pulls == 0

request_pulls := requested_pulls if {
	valid_pulls
	requested_pulls > 0
}

default ttl_seconds := 0

ttl_seconds := request_ttl if input.action in request_actions

ttl_seconds := grant_remaining_seconds if input.action == "dataset.pull"

default max_pulls := 0

max_pulls := request_pulls if input.action in request_actions

max_pulls := input.request.grant.max_pulls if {
	input.action == "dataset.pull"
	is_number(input.request.grant.max_pulls)
}

default max_rows := 0

max_rows := default_max_rows if input.action in (request_actions | {"dataset.pull"})
