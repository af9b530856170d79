package risk_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestPostmortemReview writes a SEV1 incident's postmortem, sends it for review and back, and
// publishes it once the incident is resolved: only then does the incident close.
func TestPostmortemReview(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		i := d.declare(t, "erp", riskv1.Incident_SEV1)
		name := i.GetName() + "/postmortem"
		p, err := d.inc.GetPostmortem(ctx, &riskv1.GetPostmortemRequest{Name: name})
		if err != nil || p.GetState() != riskv1.Postmortem_DRAFT || p.GetSummary() != "" || p.GetEtag() == "" {
			t.Fatalf("new postmortem = %v, %v", p, err)
		}
		_, err = d.inc.GetPostmortem(ctx, &riskv1.GetPostmortemRequest{Name: "incidents/nothere/postmortem"})
		d.AssertStatus(t, err, codes.NotFound, "INCIDENT_NOT_FOUND")
		write := func(pm *riskv1.Postmortem, paths ...string) (*riskv1.Postmortem, error) {
			pm.Name = name
			return d.inc.UpdatePostmortem(ctx, &riskv1.UpdatePostmortemRequest{Postmortem: pm, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		}
		p, err = write(&riskv1.Postmortem{Summary: "The ERP database ran out of disk.", Etag: p.GetEtag()}, "summary")
		if err != nil || p.GetAuthor() == "" || p.GetSummary() == "" {
			t.Fatalf("write the summary = %v, %v", p, err)
		}
		_, err = d.inc.SubmitPostmortem(ctx, &riskv1.SubmitPostmortemRequest{Name: name})
		d.AssertStatus(t, err, codes.FailedPrecondition, "POSTMORTEM_INCOMPLETE", "postmortem.impact", "postmortem.root_causes")
		if _, err := write(&riskv1.Postmortem{Impact: "Orders stopped for 2 hours.", RootCauses: "Log rotation was disabled.",
			WhatWentWell: "The runbook worked."}, "impact", "root_causes", "what_went_well"); err != nil {
			t.Fatal(err)
		}
		sub, err := d.inc.SubmitPostmortem(ctx, &riskv1.SubmitPostmortemRequest{Name: name})
		if err != nil || sub.GetState() != riskv1.Postmortem_IN_REVIEW || sub.GetSubmitTime() == nil {
			t.Fatalf("submit = %v, %v", sub, err)
		}
		_, err = write(&riskv1.Postmortem{Lessons: "x"}, "lessons")
		d.AssertStatus(t, err, codes.FailedPrecondition, "POSTMORTEM_NOT_EDITABLE")
		// The incident is not resolved yet: no publishing.
		_, err = d.inc.PublishPostmortem(ctx, &riskv1.PublishPostmortemRequest{Name: name})
		d.AssertStatus(t, err, codes.FailedPrecondition, "INCIDENT_NOT_RESOLVED")
		back, err := d.inc.RequestPostmortemChanges(ctx, &riskv1.RequestPostmortemChangesRequest{Name: name, Reason: "Add the lessons."})
		if err != nil || back.GetState() != riskv1.Postmortem_DRAFT || back.GetStateReason() != "Add the lessons." {
			t.Fatalf("request changes = %v, %v", back, err)
		}
		if _, err := write(&riskv1.Postmortem{Lessons: "Alert on disk use."}, "lessons"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.inc.SubmitPostmortem(ctx, &riskv1.SubmitPostmortemRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() error{
			func() error {
				_, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName()})
				return err
			},
			func() error {
				_, err := d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName()})
				return err
			},
			func() error {
				_, err := d.inc.ResolveIncident(ctx, &riskv1.ResolveIncidentRequest{Name: i.GetName()})
				return err
			},
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		_, err = d.inc.CloseIncident(ctx, &riskv1.CloseIncidentRequest{Name: i.GetName()})
		d.AssertStatus(t, err, codes.FailedPrecondition, "POSTMORTEM_NOT_PUBLISHED")
		writer := riskv1.NewIncidentServiceClient(d.ConnAs(t, "users/writer", "incidents.read", "incidents.write"))
		if _, err := writer.PublishPostmortem(ctx, &riskv1.PublishPostmortemRequest{Name: name}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("publish with incidents.write = %v", err)
		}
		pub, err := d.inc.PublishPostmortem(ctx, &riskv1.PublishPostmortemRequest{Name: name})
		if err != nil || pub.GetState() != riskv1.Postmortem_PUBLISHED || pub.GetPublisher() == "" || pub.GetPublishTime() == nil {
			t.Fatalf("publish = %v, %v", pub, err)
		}
		_, err = d.inc.PublishPostmortem(ctx, &riskv1.PublishPostmortemRequest{Name: name})
		d.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		ev := outbox(t, d.db, ".postmortem.published", name, func() *riskv1.PostmortemPublished { return &riskv1.PostmortemPublished{} })
		if len(ev) != 1 || ev[0].GetIncident().GetState() != riskv1.Incident_RESOLVED || ev[0].GetPostmortem().GetLessons() != "Alert on disk use." {
			t.Errorf("postmortem.published = %v", ev)
		}
		closed, err := d.inc.CloseIncident(ctx, &riskv1.CloseIncidentRequest{Name: i.GetName()})
		if err != nil || closed.GetState() != riskv1.Incident_CLOSED {
			t.Errorf("close with the postmortem published = %v, %v", closed, err)
		}
	})
}

// TestPostmortemActionItems: action items of a postmortem fall overdue once, the day after their
// due date, unless done or cancelled first; a moved due date moves it. Lists find the overdue ones
// across incidents.
func TestPostmortemActionItems(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		i := d.declare(t, "erp", riskv1.Incident_SEV2)
		parent := i.GetName() + "/postmortem"
		create := func(id string, due int32) *riskv1.ActionItem {
			t.Helper()
			a, err := d.inc.CreateActionItem(ctx, &riskv1.CreateActionItemRequest{Parent: parent, ActionItemId: id,
				ActionItem: &riskv1.ActionItem{Title: "Item " + id, Owner: "ops@example.com", DueDate: day(2026, 12, due),
					TrackerUrl: "https://tracker.example.com/OPS-" + id}})
			if err != nil {
				t.Fatalf("create %s: %v", id, err)
			}
			return a
		}
		alert, done, dropped, moved := create("alert", 10), create("runbook", 10), create("vendor", 10), create("rotate", 10)
		if alert.GetName() != "incidents/erp/postmortem/actionItems/alert" || alert.GetState() != riskv1.ActionItem_OPEN || alert.GetOverdue() {
			t.Errorf("created = %v", alert)
		}
		if got := dueItems(t, d.db, alert.GetName())["postmortem_action_overdue"]; !got.Equal(midnight(2026, 12, 11)) {
			t.Errorf("overdue item due %v", got)
		}
		for _, c := range []struct {
			name  string
			item  *riskv1.ActionItem
			field string
		}{
			{"past", &riskv1.ActionItem{Title: "x", Owner: "o", DueDate: day(2026, 12, 3)}, "action_item.due_date:DUE_DATE_IN_PAST"},
			{"no owner", &riskv1.ActionItem{Title: "x", DueDate: day(2026, 12, 5)}, "action_item.owner:REQUIRED"},
		} {
			_, err := d.inc.CreateActionItem(ctx, &riskv1.CreateActionItemRequest{Parent: parent, ActionItem: c.item})
			testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.field)
		}
		_, err := d.inc.CreateActionItem(ctx, &riskv1.CreateActionItemRequest{Parent: "incidents/nothere/postmortem",
			ActionItem: &riskv1.ActionItem{Title: "x", Owner: "o", DueDate: day(2026, 12, 5)}})
		d.AssertStatus(t, err, codes.NotFound, "INCIDENT_NOT_FOUND")
		if _, err := d.inc.CompleteActionItem(ctx, &riskv1.CompleteActionItemRequest{Name: done.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.inc.CancelActionItem(ctx, &riskv1.CancelActionItemRequest{Name: dropped.GetName(), Reason: "the vendor is leaving"}); err != nil {
			t.Fatal(err)
		}
		_, err = d.inc.CancelActionItem(ctx, &riskv1.CancelActionItemRequest{Name: done.GetName(), Reason: "x"})
		d.AssertStatus(t, err, codes.FailedPrecondition, "ACTION_ITEM_FINAL")
		if _, err := d.inc.UpdateActionItem(ctx, &riskv1.UpdateActionItemRequest{ActionItem: &riskv1.ActionItem{Name: moved.GetName(),
			DueDate: day(2026, 12, 20)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"due_date"}}}); err != nil {
			t.Fatal(err)
		}

		d.clock.Set(midnight(2026, 12, 11))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, d.db, ".postmortem.action_overdue", alert.GetName()) > 0 })
		ev := outbox(t, d.db, ".postmortem.action_overdue", alert.GetName(), func() *riskv1.PostmortemActionOverdue { return &riskv1.PostmortemActionOverdue{} })
		if len(ev) != 1 || !ev[0].GetActionItem().GetOverdue() || ev[0].GetIncident().GetName() != i.GetName() ||
			ev[0].GetDueDate().GetDay() != 10 || !ev[0].GetDueTime().AsTime().Equal(midnight(2026, 12, 11)) {
			t.Errorf("postmortem.action_overdue = %v", ev)
		}
		list, err := d.inc.ListActionItems(ctx, &riskv1.ListActionItemsRequest{Parent: "incidents/-/postmortem", Filter: "overdue = true"})
		if err != nil || len(list.GetActionItems()) != 1 || list.GetActionItems()[0].GetName() != alert.GetName() {
			t.Errorf("overdue items = %v, %v", list, err)
		}
		d.clock.Set(midnight(2026, 12, 21))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, d.db, ".postmortem.action_overdue", moved.GetName()) > 0 })
		for _, c := range []struct {
			a    *riskv1.ActionItem
			want int
		}{{alert, 1}, {done, 0}, {dropped, 0}, {moved, 1}} {
			if n := countEvents(t, d.db, ".postmortem.action_overdue", c.a.GetName()); n != c.want {
				t.Errorf("action_overdue of %s = %d, want %d", c.a.GetName(), n, c.want)
			}
		}
		fin, err := d.inc.CompleteActionItem(ctx, &riskv1.CompleteActionItemRequest{Name: alert.GetName()})
		if err != nil || fin.GetOverdue() || fin.GetState() != riskv1.ActionItem_DONE || fin.GetCompleteTime() == nil {
			t.Errorf("complete the overdue item = %v, %v", fin, err)
		}
	})
}
