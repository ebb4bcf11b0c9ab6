// Package catalogue is the gateway's Catalogue service: the datasets of the
// exchange as their schemas define them (fields, owner, classification,
// record key) with the totals and latest batches of what has been pushed,
// read by any authenticated caller. It also converts batch records to the
// API's form for the Datasets service.
//
// It never reads or returns row values: the totals come from the batch
// records of the state store, not from the warehouse.
package catalogue

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/qiao-exchange/qiao/gateway/rpcerr"
	exchangev1 "github.com/qiao-exchange/qiao/gen/go/qiao/exchange/v1"
	"github.com/qiao-exchange/qiao/schema"
	"github.com/qiao-exchange/qiao/store"
)

// Store is what the Catalogue service reads from the state store.
type Store interface {
	// BatchTotals sums up the committed batches of each dataset.
	BatchTotals(ctx context.Context) ([]store.DatasetTotals, error)
	// ListBatches returns the batches q selects, newest first.
	ListBatches(ctx context.Context, q store.BatchQuery) ([]store.Batch, error)
}

var _ Store = (*store.DB)(nil)

// Default and most latest batches GetDataset returns.
const (
	DefaultLatestBatches = 10
	MaxLatestBatches     = 100
)

// Service implements exchangev1.CatalogueServer.
type Service struct {
	exchangev1.UnimplementedCatalogueServer
	schemas *schema.Registry
	store   Store
}

var _ exchangev1.CatalogueServer = (*Service)(nil)

// New returns the service over the schema registry and the store.
func New(schemas *schema.Registry, st Store) (*Service, error) {
	if schemas == nil || st == nil {
		return nil, errors.New("catalogue: schemas and store are required")
	}
	return &Service{schemas: schemas, store: st}, nil
}

// ListDatasets implements exchangev1.CatalogueServer.
func (s *Service) ListDatasets(ctx context.Context, req *exchangev1.ListDatasetsRequest) (*exchangev1.ListDatasetsResponse, error) {
	totals, err := s.totals(ctx)
	if err != nil {
		return nil, err
	}
	ds := s.schemas.List()
	if req.GetOwner() != "" {
		ds = s.schemas.ForOwner(req.GetOwner())
	}
	resp := &exchangev1.ListDatasetsResponse{Datasets: make([]*exchangev1.Dataset, 0, len(ds))}
	for _, d := range ds {
		resp.Datasets = append(resp.Datasets, DatasetToProto(d, totals[d.ID]))
	}
	return resp, nil
}

// GetDataset implements exchangev1.CatalogueServer.
func (s *Service) GetDataset(ctx context.Context, req *exchangev1.GetDatasetRequest) (*exchangev1.GetDatasetResponse, error) {
	n := int(req.GetLatestBatches())
	switch {
	case req.GetDataset() == "":
		return nil, rpcerr.InvalidField("dataset", "required", nil)
	case n < 0 || n > MaxLatestBatches:
		return nil, rpcerr.InvalidField("latest_batches", fmt.Sprintf("must be 0 to %d", MaxLatestBatches), nil)
	case n == 0:
		n = DefaultLatestBatches
	}
	d, err := s.schemas.Get(req.GetDataset())
	if err != nil {
		return nil, rpcerr.WithMessage(fmt.Errorf("catalogue: %w", err), "no such dataset")
	}
	totals, err := s.totals(ctx)
	if err != nil {
		return nil, err
	}
	batches, err := s.store.ListBatches(ctx, store.BatchQuery{Dataset: d.ID, State: store.BatchCommitted, Limit: n})
	if err != nil {
		return nil, fmt.Errorf("catalogue: batches of %s: %w", d.ID, err)
	}
	out := DatasetToProto(d, totals[d.ID])
	for _, b := range batches {
		out.LatestBatches = append(out.LatestBatches, BatchToProto(b))
	}
	return &exchangev1.GetDatasetResponse{Dataset: out}, nil
}

func (s *Service) totals(ctx context.Context) (map[string]store.DatasetTotals, error) {
	ts, err := s.store.BatchTotals(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalogue: batch totals: %w", err)
	}
	m := make(map[string]store.DatasetTotals, len(ts))
	for _, t := range ts {
		m[t.Dataset] = t
	}
	return m, nil
}

// DatasetToProto converts a dataset's schema and totals to the API's form,
// without latest batches.
func DatasetToProto(d *schema.Dataset, t store.DatasetTotals) *exchangev1.Dataset {
	out := &exchangev1.Dataset{
		Id:          d.ID,
		Version:     int32(d.Version),
		TitleZh:     d.TitleZh,
		TitleEn:     d.TitleEn,
		Description: d.Description,
		Owner:       d.Owner,
		RecordKey:   append([]string(nil), d.RecordKey...),
		Totals:      &exchangev1.DatasetTotals{BatchCount: t.Batches, RowCount: t.Rows},
	}
	switch d.Classification {
	case schema.Internal:
		out.Classification = exchangev1.Classification_CLASSIFICATION_INTERNAL
	case schema.Sensitive:
		out.Classification = exchangev1.Classification_CLASSIFICATION_SENSITIVE
	}
	if !t.Latest.IsZero() {
		out.Totals.LatestCommitTime = timestamppb.New(t.Latest)
	}
	for _, f := range d.Fields {
		pf := &exchangev1.Field{
			Name:        f.Name,
			Type:        string(f.Type),
			Pii:         f.PII,
			Required:    f.Required,
			AliasesZh:   append([]string(nil), f.AliasesZh...),
			AliasesEn:   append([]string(nil), f.AliasesEn...),
			Description: f.Description,
		}
		for _, v := range f.Values {
			pf.EnumValues = append(pf.EnumValues, v.Value)
		}
		out.Fields = append(out.Fields, pf)
	}
	return out
}

// BatchToProto converts a batch record to the API's form.
func BatchToProto(b store.Batch) *exchangev1.Batch {
	out := &exchangev1.Batch{
		Dataset:          b.Dataset,
		BatchId:          b.ID,
		Principal:        b.Principal,
		RowCount:         b.Rows,
		RejectedRowCount: b.RejectedRows,
		EnvelopeSm3:      b.EnvelopeSM3,
		ContentSm3:       b.ContentSM3,
		CreateTime:       timestamppb.New(b.Created),
		UpdateTime:       timestamppb.New(b.Updated),
	}
	switch b.State {
	case store.BatchReceived:
		out.State = exchangev1.BatchState_BATCH_STATE_RECEIVED
	case store.BatchCommitted:
		out.State = exchangev1.BatchState_BATCH_STATE_COMMITTED
	case store.BatchRejected:
		out.State = exchangev1.BatchState_BATCH_STATE_REJECTED
	}
	for _, r := range b.Rejected {
		out.RejectedRows = append(out.RejectedRows, &exchangev1.RejectedRow{Row: r.Row, Field: r.Field, Reason: r.Reason})
	}
	return out
}
