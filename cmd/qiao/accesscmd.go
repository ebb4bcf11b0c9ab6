package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/qiao-exchange/qiao/adapters/client"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// clientFlags are the flags of every command that calls a gateway as a
// principal of a deployment.
type clientFlags struct {
	dir, as, gateway string
}

func (f *clientFlags) register(c *cobra.Command, defaultAs string) {
	c.Flags().StringVar(&f.dir, "dir", "./qiao-data", "deployment directory with keys/, certs/ and qiao.yaml")
	c.Flags().StringVar(&f.as, "as", defaultAs, "the principal to act as, e.g. user:alice")
	c.Flags().StringVar(&f.gateway, "gateway", "", "the gateway's gRPC address, host:port (default: qiao.yaml's server.grpc_address)")
}

// dial connects to the gateway as the flags' principal.
func (f *clientFlags) dial(ctx context.Context) (*client.Client, error) {
	if f.as == "" {
		return nil, errors.New("--as is required: the principal to act as (请用 --as 指定身份)")
	}
	cfg, err := client.FromDeployment(ctx, f.dir, f.as)
	if err != nil {
		return nil, err
	}
	if f.gateway != "" {
		cfg.Address = f.gateway
	}
	return client.Dial(cfg)
}

// callError turns a gateway's refusal into a bilingual line with its code.
func callError(what string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s (%s)", what, st.Message(), st.Code())
}

func newRequestCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "request",
		Short: "Ask for access to another agency's data (数据调取申请)",
	}
	c.AddCommand(newRequestCreateCmd(), newRequestListCmd(), newRequestShowCmd(), newRequestWithdrawCmd())
	return c
}

func newRequestCreateCmd() *cobra.Command {
	var (
		cf                              clientFlags
		dataset, purpose, basis, caseNo string
		fields, tokens                  []string
		dateField, from, to             string
		duration                        time.Duration
		maxPulls                        int32
	)
	c := &cobra.Command{
		Use:   "create --dataset ID --purpose TEXT --legal-basis TEXT --case-number 案号 --field NAME[:MASKING]…",
		Short: "File an access request (提交调取申请)",
		Long: `create files a request for a dataset for a case. Policy answers at once: the request is
denied with its reasons, or pending until the data-acquisition team approves it
(one approval for internal data, two by different approvers for sensitive data or
for unmasked fields).

Each --field names a field and how its values are to be returned: partial
(411528********1234, 张*; the default for personal data), token (its HMAC-SM3
token) or full (unmasked; always needs two approvals).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &exchangev1.CreateRequestRequest{Dataset: dataset, Purpose: purpose, LegalBasis: basis, CaseNumber: caseNo, MaxPulls: maxPulls}
			for _, f := range fields {
				name, masking, _ := strings.Cut(f, ":")
				m, ok := maskingNames[masking]
				if !ok {
					return fmt.Errorf("--field %s: masking %q is not partial, token or full (脱敏方式无效)", f, masking)
				}
				req.Fields = append(req.Fields, &exchangev1.FieldMasking{Field: name, Masking: m})
			}
			if dateField != "" || from != "" || to != "" || len(tokens) > 0 {
				req.Filter = &exchangev1.RowFilter{DateField: dateField, FromDate: from, ToDate: to, SubjectTokens: tokens}
			}
			if duration > 0 {
				req.Duration = durationpb.New(duration)
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Access.CreateRequest(ctx, req)
				if err != nil {
					return callError("申请失败 request failed", err)
				}
				w := cmd.OutOrStdout()
				printRequest(w, resp.GetRequest())
				if resp.GetRequest().GetState() == exchangev1.RequestState_REQUEST_STATE_DENIED {
					return errors.New("申请被策略拒绝 the request was denied by policy")
				}
				return nil
			})
		},
	}
	cf.register(c, "")
	c.Flags().StringVar(&dataset, "dataset", "", "the dataset, e.g. medins.settlements")
	c.Flags().StringVar(&purpose, "purpose", "", "what the data is for (调取目的)")
	c.Flags().StringVar(&basis, "legal-basis", "", "the legal basis (法律依据)")
	c.Flags().StringVar(&caseNo, "case-number", "", "the case number (案号)")
	c.Flags().StringArrayVar(&fields, "field", nil, "a field and its masking, NAME[:partial|token|full]; repeat")
	c.Flags().StringVar(&dateField, "date-field", "", "the date field the time range applies to")
	c.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD")
	c.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD")
	c.Flags().StringArrayVar(&tokens, "subject-token", nil, "only rows about the person with this token (qiao audit token); repeat")
	c.Flags().DurationVar(&duration, "duration", 0, "how long the grant should last (default: policy's, 7 days)")
	c.Flags().Int32Var(&maxPulls, "max-pulls", 0, "how many pulls the grant should allow (default: policy's)")
	return c
}

var maskingNames = map[string]exchangev1.Masking{
	"":        exchangev1.Masking_MASKING_UNSPECIFIED,
	"partial": exchangev1.Masking_MASKING_PARTIAL,
	"token":   exchangev1.Masking_MASKING_TOKEN,
	"full":    exchangev1.Masking_MASKING_FULL,
}

func newRequestListCmd() *cobra.Command {
	var (
		cf             clientFlags
		state, dataset string
	)
	c := &cobra.Command{
		Use:   "list [--state pending|approved|denied|expired|withdrawn] [--dataset ID]",
		Short: "List access requests: your own, or all for approvers (申请列表)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &exchangev1.ListRequestsRequest{Dataset: dataset}
			if state != "" {
				v, ok := exchangev1.RequestState_value["REQUEST_STATE_"+strings.ToUpper(state)]
				if !ok || v == 0 {
					return fmt.Errorf("--state %q is not pending, approved, denied, expired or withdrawn", state)
				}
				req.State = exchangev1.RequestState(v)
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Access.ListRequests(ctx, req)
				if err != nil {
					return callError("查询失败 listing failed", err)
				}
				w := cmd.OutOrStdout()
				if len(resp.GetRequests()) == 0 {
					fmt.Fprintln(w, "没有申请 no requests")
				}
				for _, r := range resp.GetRequests() {
					fmt.Fprintf(w, "%s  %-9s  %-28s  %s  %d/%d  %s\n", r.GetRequestId(), stateName(r.GetState()), r.GetDataset(),
						r.GetRequester(), approvals(r), r.GetApprovalsRequired(), r.GetCaseNumber())
				}
				return nil
			})
		},
	}
	cf.register(c, "")
	c.Flags().StringVar(&state, "state", "", "only requests in this state")
	c.Flags().StringVar(&dataset, "dataset", "", "only requests for this dataset")
	return c
}

func newRequestShowCmd() *cobra.Command {
	var cf clientFlags
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Show one access request with its approvals and grant (申请详情)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Access.GetRequest(ctx, &exchangev1.GetRequestRequest{RequestId: args[0]})
				if err != nil {
					return callError("查询失败 show failed", err)
				}
				printRequest(cmd.OutOrStdout(), resp.GetRequest())
				return nil
			})
		},
	}
	cf.register(c, "")
	return c
}

func newRequestWithdrawCmd() *cobra.Command {
	var (
		cf     clientFlags
		reason string
	)
	c := &cobra.Command{
		Use:   "withdraw ID [--reason TEXT]",
		Short: "Withdraw your pending request (撤回申请)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Access.WithdrawRequest(ctx, &exchangev1.WithdrawRequestRequest{RequestId: args[0], Reason: reason})
				if err != nil {
					return callError("撤回失败 withdrawal failed", err)
				}
				printRequest(cmd.OutOrStdout(), resp.GetRequest())
				return nil
			})
		},
	}
	cf.register(c, "")
	c.Flags().StringVar(&reason, "reason", "", "why")
	return c
}

// newDecideCmd is `qiao approve` or `qiao deny`.
func newDecideCmd(approve bool) *cobra.Command {
	var (
		cf     clientFlags
		reason string
	)
	use, short := "approve ID --reason TEXT", "Approve an access request, as the data-acquisition team (审批同意)"
	if !approve {
		use, short = "deny ID --reason TEXT", "Deny an access request, as the data-acquisition team (审批驳回)"
	}
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required (请填写审批意见)")
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				var r *exchangev1.AccessRequest
				if approve {
					resp, err := c.Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: args[0], Reason: reason})
					if err != nil {
						return callError("审批失败 approval failed", err)
					}
					r = resp.GetRequest()
				} else {
					resp, err := c.Access.Deny(ctx, &exchangev1.DenyRequest{RequestId: args[0], Reason: reason})
					if err != nil {
						return callError("驳回失败 denial failed", err)
					}
					r = resp.GetRequest()
				}
				printRequest(cmd.OutOrStdout(), r)
				return nil
			})
		},
	}
	cf.register(c, "")
	c.Flags().StringVar(&reason, "reason", "", "the reason (审批意见), required")
	return c
}

func newGrantCmd() *cobra.Command {
	var (
		cf     clientFlags
		reason string
	)
	c := &cobra.Command{
		Use:   "grant",
		Short: "Manage grants (授权)",
	}
	revoke := &cobra.Command{
		Use:   "revoke ID --reason TEXT",
		Short: "Revoke a grant: nothing more can be pulled with it (撤销授权)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required (请填写撤销理由)")
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *client.Client) error {
				resp, err := c.Access.RevokeGrant(ctx, &exchangev1.RevokeGrantRequest{GrantId: args[0], Reason: reason})
				if err != nil {
					return callError("撤销失败 revocation failed", err)
				}
				g := resp.GetGrant()
				fmt.Fprintf(cmd.OutOrStdout(), "授权已撤销 grant %s revoked (%d of %d pulls made)\n", g.GetGrantId(), g.GetPulls(), g.GetMaxPulls())
				return nil
			})
		},
	}
	cf.register(revoke, "")
	revoke.Flags().StringVar(&reason, "reason", "", "why, required")
	c.AddCommand(revoke)
	return c
}

// withClient dials the gateway, runs fn with a bounded context, and closes.
func withClient(cmd *cobra.Command, cf *clientFlags, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := cf.dial(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := client.WithTimeout(cmd.Context())
	defer cancel()
	return fn(ctx, c)
}

var stateNames = map[exchangev1.RequestState]string{
	exchangev1.RequestState_REQUEST_STATE_PENDING:   "待审批 pending",
	exchangev1.RequestState_REQUEST_STATE_APPROVED:  "已批准 approved",
	exchangev1.RequestState_REQUEST_STATE_DENIED:    "已驳回 denied",
	exchangev1.RequestState_REQUEST_STATE_EXPIRED:   "已过期 expired",
	exchangev1.RequestState_REQUEST_STATE_WITHDRAWN: "已撤回 withdrawn",
}

func stateName(s exchangev1.RequestState) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return s.String()
}

func approvals(r *exchangev1.AccessRequest) int {
	n := 0
	for _, a := range r.GetApprovals() {
		if a.GetApproved() {
			n++
		}
	}
	return n
}

// printRequest writes a request for people to read.
func printRequest(w io.Writer, r *exchangev1.AccessRequest) {
	fmt.Fprintf(w, "申请 request %s: %s\n", r.GetRequestId(), stateName(r.GetState()))
	fmt.Fprintf(w, "  申请人 requester   %s\n  数据集 dataset     %s\n  案号 case number   %s\n  目的 purpose       %s\n  法律依据 legal basis %s\n",
		r.GetRequester(), r.GetDataset(), r.GetCaseNumber(), r.GetPurpose(), r.GetLegalBasis())
	var fs []string
	for _, f := range r.GetFields() {
		m := strings.ToLower(strings.TrimPrefix(f.GetMasking().String(), "MASKING_"))
		if m == "unspecified" {
			m = "default"
		}
		fs = append(fs, f.GetField()+":"+m)
	}
	fmt.Fprintf(w, "  字段 fields        %s\n", strings.Join(fs, ", "))
	fmt.Fprintf(w, "  审批 approvals     %d of %d\n", approvals(r), r.GetApprovalsRequired())
	for _, a := range r.GetApprovals() {
		verdict := "同意 approved"
		if !a.GetApproved() {
			verdict = "驳回 denied"
		}
		fmt.Fprintf(w, "    %s %s: %s\n", a.GetApprover(), verdict, a.GetReason())
	}
	for _, reason := range r.GetReasons() {
		fmt.Fprintf(w, "  理由 reason        %s\n", reason)
	}
	if g := r.GetGrant(); g != nil {
		fmt.Fprintf(w, "  授权 grant         %s, %d of %d pulls, expires %s, %s\n", g.GetGrantId(), g.GetPulls(), g.GetMaxPulls(),
			g.GetExpireTime().AsTime().Local().Format(time.DateTime), strings.ToLower(strings.TrimPrefix(g.GetState().String(), "GRANT_STATE_")))
	}
}
