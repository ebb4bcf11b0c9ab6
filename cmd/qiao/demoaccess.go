package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/status"

	"github.com/qiao-exchange/qiao/adapters/client"
	"github.com/qiao-exchange/qiao/gateway"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
)

// demoAccess walks through an access request on the running demo gateway:
// alice (procuratorate) asks for the medical-insurance settlements for a case,
// bob and carol (the data-acquisition team) approve, and alice pulls the
// granted fields, masked, into a CSV file.
func demoAccess(ctx context.Context, dir string, a gateway.Addrs, w io.Writer) error {
	dial := func(p string) (*client.Client, error) {
		cfg, err := client.FromDeployment(ctx, dir, p)
		if err != nil {
			return nil, err
		}
		cfg.Address = a.GRPC.String()
		return client.Dial(cfg)
	}
	users := map[string]*client.Client{}
	for _, p := range []string{"user:alice", "user:bob", "user:carol"} {
		c, err := dial(p)
		if err != nil {
			return err
		}
		defer c.Close()
		users[p] = c
	}
	ctx, cancel := client.WithTimeout(ctx)
	defer cancel()

	r, err := users["user:alice"].Access.CreateRequest(ctx, &exchangev1.CreateRequestRequest{
		Dataset: "medins.settlements", Purpose: "核查医保基金第三方责任支付线索 checking fund payments a liable third party owed",
		LegalBasis: "《中华人民共和国社会保险法》第三十条；《人民检察院组织法》第二十一条", CaseNumber: "(2026)豫1528行监1号",
		Fields: []*exchangev1.FieldMasking{{Field: "settlement_no"}, {Field: "id_number"}, {Field: "name"}, {Field: "admission_date"}, {Field: "fund_paid"}},
	})
	if err != nil {
		return fmt.Errorf("alice's request: %w", err)
	}
	req := r.GetRequest()
	fmt.Fprintf(w, "\n调取申请 request %s by user:alice for medins.settlements: %s, needs %d approvals (敏感数据 sensitive)\n",
		req.GetRequestId(), stateName(req.GetState()), req.GetApprovalsRequired())
	if _, err := users["user:alice"].Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: req.GetRequestId(), Reason: "自批"}); err != nil {
		fmt.Fprintf(w, "  user:alice approving her own request: %s\n", status.Convert(err).Message())
	}
	var grant *exchangev1.Grant
	for _, p := range []string{"user:bob", "user:carol"} {
		ap, err := users[p].Access.Approve(ctx, &exchangev1.ApproveRequest{RequestId: req.GetRequestId(), Reason: "案件办理需要 needed for the case"})
		if err != nil {
			return fmt.Errorf("%s's approval: %w", p, err)
		}
		fmt.Fprintf(w, "  %s approved: %s, %d of %d\n", p, stateName(ap.GetRequest().GetState()), approvals(ap.GetRequest()), ap.GetRequest().GetApprovalsRequired())
		grant = ap.GetRequest().GetGrant()
	}
	if grant == nil {
		return fmt.Errorf("no grant after two approvals")
	}
	p, err := users["user:alice"].Pull(ctx, grant.GetGrantId())
	if err != nil {
		return fmt.Errorf("alice's pull: %w", err)
	}
	out := filepath.Join(dir, "pulled-"+grant.GetGrantId()+".csv")
	if err := client.WritePulled(p, out, client.WriteOptions{Format: client.FormatCSV}); err != nil {
		return err
	}
	fmt.Fprintf(w, "  user:alice pulled %d rows with grant %s, fields %s, into %s\n", len(p.Rows), grant.GetGrantId(), strings.Join(p.Fields, ","), out)
	if len(p.Rows) > 0 {
		fmt.Fprintf(w, "  第一行 first row (脱敏 masked): %s\n", strings.Join(p.Rows[0], ", "))
	}
	return nil
}
