package vendors_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	platformevents "github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// observability is an evaluation of three candidates on two criteria of weight 50 each, two of
// them offered by vendors: a and b tie at 700 of 1000 points, c follows with 500.
func observability() *vendorsv1.Evaluation {
	ev := &vendorsv1.Evaluation{
		Title: "Observability platform 2027", Need: "Traces, metrics and logs for 40 services", Owner: "cto@example.com",
		Criteria: []*vendorsv1.Criterion{
			{Key: "cost", DisplayName: "Total cost of ownership", Weight: 50},
			{Key: "security", DisplayName: "Security", Weight: 50},
		},
		Candidates: []*vendorsv1.Candidate{
			{Key: "acme", Vendor: "vendors/acme", DisplayName: "Acme Observe"},
			{Key: "globex", Vendor: "vendors/globex", DisplayName: "Globex Insight"},
			{Key: "inhouse", DisplayName: "Built in house"},
		},
	}
	for cand, s := range map[string][2]int32{"acme": {8, 6}, "globex": {6, 8}, "inhouse": {5, 5}} {
		ev.Scores = append(ev.Scores,
			&vendorsv1.Score{CriterionKey: "cost", CandidateKey: cand, Score: s[0]},
			&vendorsv1.Score{CriterionKey: "security", CandidateKey: cand, Score: s[1]})
	}
	slices.SortFunc(ev.Scores, func(a, b *vendorsv1.Score) int {
		return cmpStrings(a.GetCandidateKey()+a.GetCriterionKey(), b.GetCandidateKey()+b.GetCriterionKey())
	})
	return ev
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// startEvaluations runs the service with the candidates' vendors.
func startEvaluations(t *testing.T, db testenv.Database) *clockEnv {
	t.Helper()
	e := startAt(t, db, dec4)
	mustVendor(t, e, "acme", acme("Acme", 2))
	mustVendor(t, e, "globex", acme("Globex", 3))
	return e
}

func mustEvaluation(t *testing.T, e *clockEnv, id string, ev *vendorsv1.Evaluation) *vendorsv1.Evaluation {
	t.Helper()
	out, err := e.client.CreateEvaluation(context.Background(), &vendorsv1.CreateEvaluationRequest{EvaluationId: id, Evaluation: ev})
	if err != nil {
		t.Fatalf("create evaluation %s: %v", id, err)
	}
	return out
}

// ranks is a ranking as "key:rank:total:percent_tenths" strings.
func ranks(ev *vendorsv1.Evaluation) []string {
	var out []string
	for _, r := range ev.GetRanking() {
		out = append(out, fmt.Sprintf("%s:%d:%d:%d", r.GetCandidateKey(), r.GetRank(), r.GetWeightedTotal(), r.GetPercentTenths()))
	}
	return out
}

func TestEvaluationCRUD(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startEvaluations(t, db)
		ctx := context.Background()
		in := observability()
		in.State, in.Winner = vendorsv1.Evaluation_DECIDED, "acme" // output only: ignored
		ev := mustEvaluation(t, e, "obs-2027", in)
		if ev.GetName() != "evaluations/obs-2027" || ev.GetState() != vendorsv1.Evaluation_DRAFT || ev.GetWinner() != "" ||
			ev.GetEtag() == "" || !ev.GetCreateTime().AsTime().Equal(dec4) || len(ev.GetScores()) != 6 ||
			ev.GetCandidates()[0].GetVendor() != "vendors/acme" {
			t.Errorf("created %v; want a DRAFT evaluations/obs-2027 with its criteria, candidates and scores", ev)
		}
		// The provisional ranking: a tie shares rank 1, the next is 3; max total 1000.
		if got, want := ranks(ev), []string{"acme:1:700:700", "globex:1:700:700", "inhouse:3:500:500"}; !slices.Equal(got, want) {
			t.Errorf("ranking %v; want %v", got, want)
		}
		if r := ev.GetRanking()[0]; r.GetMaxTotal() != 1000 || len(r.GetLines()) != 2 || r.GetLines()[0].GetPoints() != 400 {
			t.Errorf("acme's arithmetic %v; want max 1000, cost 50 × 8 = 400 first", r)
		}
		got, err := e.client.GetEvaluation(ctx, &vendorsv1.GetEvaluationRequest{Name: "evaluations/obs-2027"})
		if err != nil || got.GetEtag() != ev.GetEtag() || !slices.Equal(ranks(got), ranks(ev)) {
			t.Errorf("GetEvaluation = %v, %v; want the created evaluation", got, err)
		}
		_, err = e.client.GetEvaluation(ctx, &vendorsv1.GetEvaluationRequest{Name: "evaluations/nothing"})
		e.AssertStatus(t, err, codes.NotFound, "EVALUATION_NOT_FOUND")
		_, err = e.client.CreateEvaluation(ctx, &vendorsv1.CreateEvaluationRequest{EvaluationId: "obs-2027", Evaluation: observability()})
		e.AssertStatus(t, err, codes.AlreadyExists, "EVALUATION_ALREADY_EXISTS")

		// Update by mask: a new score breaks the tie; a stale etag is ABORTED.
		e.clock.Advance(time.Hour)
		scores := ev.GetScores()
		for _, s := range scores {
			if s.GetCandidateKey() == "globex" && s.GetCriterionKey() == "cost" {
				s.Score = 7
			}
		}
		up, err := e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Scores: scores, Title: "ignored", Etag: ev.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"scores"}}})
		if err != nil || up.GetTitle() != ev.GetTitle() || up.GetEtag() == ev.GetEtag() || !up.GetUpdateTime().AsTime().Equal(dec4.Add(time.Hour)) {
			t.Fatalf("UpdateEvaluation scores = %v, %v; want the scores only, a new etag", up, err)
		}
		if got, want := ranks(up), []string{"globex:1:750:750", "acme:2:700:700", "inhouse:3:500:500"}; !slices.Equal(got, want) {
			t.Errorf("ranking after the update %v; want %v", got, want)
		}
		_, err = e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Title: "Stale", Etag: ev.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ranking"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask")

		// Removing a candidate removes its scores.
		up, err = e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Candidates: up.GetCandidates()[:2]},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"candidates"}}})
		if err != nil || len(up.GetScores()) != 4 || len(up.GetRanking()) != 2 {
			t.Errorf("UpdateEvaluation without inhouse = %v, %v; want 4 scores and 2 ranked", up, err)
		}

		// List: filtered, ordered, paged.
		mustEvaluation(t, e, "crm", &vendorsv1.Evaluation{Title: "CRM", Owner: "cio@example.com"})
		mustEvaluation(t, e, "backup", &vendorsv1.Evaluation{Title: "Backup", Owner: "cto@example.com"})
		titles, pages := testkit.AllPages(t, func(token string) ([]string, string, error) {
			resp, err := e.client.ListEvaluations(ctx, &vendorsv1.ListEvaluationsRequest{
				Filter: `owner = "cto@example.com" AND state = DRAFT`, OrderBy: "title desc", PageSize: 1, PageToken: token})
			var out []string
			for _, ev := range resp.GetEvaluations() {
				out = append(out, ev.GetTitle())
			}
			return out, resp.GetNextPageToken(), err
		})
		if want := []string{"Observability platform 2027", "Backup"}; !slices.Equal(titles, want) || pages != 2 {
			t.Errorf("listed %v in %d pages; want %v in 2", titles, pages, want)
		}
		_, err = e.client.ListEvaluations(ctx, &vendorsv1.ListEvaluationsRequest{Filter: "need = x"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")

		// Delete a draft; the second delete is NOT_FOUND.
		if _, err := e.client.DeleteEvaluation(ctx, &vendorsv1.DeleteEvaluationRequest{Name: "evaluations/crm"}); err != nil {
			t.Fatalf("DeleteEvaluation: %v", err)
		}
		_, err = e.client.DeleteEvaluation(ctx, &vendorsv1.DeleteEvaluationRequest{Name: "evaluations/crm"})
		e.AssertStatus(t, err, codes.NotFound, "EVALUATION_NOT_FOUND")

		if n := outboxCount(t, e.db, ".vendors.evaluation.created"); n != 3 {
			t.Errorf("%d evaluation.created events; want 3", n)
		}
		// Updates and deletes have no event of their own, but an audit record each.
		if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM audit_records WHERE resource LIKE 'evaluations/%'`)[0]; n != 6 {
			t.Errorf("%d audit records of evaluations; want 6 (3 creates, 2 updates, 1 delete)", n)
		}
	})
}

func TestEvaluationValidation(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startEvaluations(t, db)
		ctx := context.Background()
		create := func(change func(ev *vendorsv1.Evaluation)) error {
			ev := observability()
			change(ev)
			_, err := e.client.CreateEvaluation(ctx, &vendorsv1.CreateEvaluationRequest{Evaluation: ev})
			return err
		}
		for _, c := range []struct {
			name   string
			change func(ev *vendorsv1.Evaluation)
			fields []string
		}{
			{"title required", func(ev *vendorsv1.Evaluation) { ev.Title = " " }, []string{"evaluation.title"}},
			{"weight 0", func(ev *vendorsv1.Evaluation) { ev.Criteria[1].Weight = 0 }, []string{"evaluation.criteria[1].weight"}},
			{"criterion twice", func(ev *vendorsv1.Evaluation) { ev.Criteria[1].Key, ev.Scores = "cost", nil }, []string{"evaluation.criteria[1].key"}},
			{"unknown candidate vendor", func(ev *vendorsv1.Evaluation) { ev.Candidates[1].Vendor = "vendors/initech" },
				[]string{"evaluation.candidates[1].vendor"}},
			{"score of no candidate", func(ev *vendorsv1.Evaluation) { ev.Scores[0].CandidateKey = "initech" },
				[]string{"evaluation.scores[0].candidate_key"}},
			{"score above 10", func(ev *vendorsv1.Evaluation) { ev.Scores[2].Score = 11 }, []string{"evaluation.scores[2].score"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.AssertStatus(t, create(c.change), codes.InvalidArgument, "INVALID_ARGUMENT", c.fields...)
			})
		}
		// An unknown vendor named by an update is refused the same way.
		ev := mustEvaluation(t, e, "obs", observability())
		cands := ev.GetCandidates()
		cands[2].Vendor = "vendors/initech"
		_, err := e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Candidates: cands}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "evaluation.candidates[2].vendor")
		if n := outboxCount(t, e.db, ".vendors.evaluation.created"); n != 1 {
			t.Errorf("%d evaluation.created events; want 1: refused calls emit nothing", n)
		}
	})
}

func TestEvaluationDecide(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startEvaluations(t, db)
		ctx := context.Background()
		in := observability()
		in.Scores = in.Scores[1:] // acme is not scored on cost
		ev := mustEvaluation(t, e, "obs", in)
		_, err := e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_INCOMPLETE")

		ev, err = e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Scores: observability().GetScores()}})
		if err != nil {
			t.Fatal(err)
		}
		// acme and globex tie at the top: the decider must name one.
		_, err = e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "RANKING_TIED")
		// A candidate not ranked first needs a rationale; a winner must be a candidate.
		_, err = e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName(), Winner: "inhouse"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "rationale")
		_, err = e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName(), Winner: "initech"})
		e.AssertStatus(t, err, codes.InvalidArgument, "CANDIDATE_NOT_FOUND", "winner")
		// Deciding needs vendors.approve.
		writer := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/writer", "vendors.read", "vendors.write"))
		_, err = writer.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName(), Winner: "globex"})
		e.AssertStatus(t, err, codes.PermissionDenied, "MISSING_SCOPE")

		e.clock.Advance(time.Hour)
		decide := &vendorsv1.DecideEvaluationRequest{Name: ev.GetName(), Etag: ev.GetEtag(), Winner: "globex",
			Rationale: "Better security at the same score", RequestId: "4e0d3c1a-7c51-4a43-9d3c-2d5a0f0f8b11"}
		dec, err := e.client.DecideEvaluation(ctx, decide)
		if err != nil || dec.GetState() != vendorsv1.Evaluation_DECIDED || dec.GetWinner() != "globex" ||
			dec.GetDecisionRationale() != "Better security at the same score" || dec.GetDecider() == "" ||
			!dec.GetDecideTime().AsTime().Equal(dec4.Add(time.Hour)) || !slices.Equal(ranks(dec), ranks(ev)) {
			t.Fatalf("DecideEvaluation = %v, %v; want DECIDED for globex now, the ranking unchanged", dec, err)
		}
		// A retry with the same request ID answers the same; the decision happened once.
		again, err := e.client.DecideEvaluation(ctx, decide)
		if err != nil || again.GetEtag() != dec.GetEtag() {
			t.Errorf("retried DecideEvaluation = %v, %v; want the first answer", again, err)
		}

		// Decided is read-only.
		_, err = e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Title: "Changed"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")
		_, err = e.client.DeleteEvaluation(ctx, &vendorsv1.DeleteEvaluationRequest{Name: ev.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")
		_, err = e.client.CancelEvaluation(ctx, &vendorsv1.CancelEvaluationRequest{Name: ev.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")
		_, err = e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName(), Winner: "acme"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")

		// A clear first wins without being named; the list finds decided evaluations by winner.
		clear := observability()
		clear.Scores[0].Score = 10 // acme on cost: 800
		mustEvaluation(t, e, "obs-b", clear)
		e.clock.Advance(time.Hour)
		first, err := e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: "evaluations/obs-b"})
		if err != nil || first.GetWinner() != "acme" || first.GetDecisionRationale() != "" {
			t.Errorf("DecideEvaluation without a winner = %v, %v; want acme, ranked first", first, err)
		}
		resp, err := e.client.ListEvaluations(ctx, &vendorsv1.ListEvaluationsRequest{Filter: "state = DECIDED", OrderBy: "decide_time desc"})
		if err != nil || len(resp.GetEvaluations()) != 2 || resp.GetEvaluations()[0].GetName() != "evaluations/obs-b" {
			t.Errorf("decided evaluations by decide_time desc = %v, %v; want obs-b then obs", resp, err)
		}
		// Undecided evaluations order as decided at the start of time: last when descending, on
		// every page.
		mustEvaluation(t, e, "draft", &vendorsv1.Evaluation{Title: "Draft"})
		order, _ := testkit.AllPages(t, func(token string) ([]string, string, error) {
			resp, err := e.client.ListEvaluations(ctx, &vendorsv1.ListEvaluationsRequest{OrderBy: "decide_time desc", PageSize: 1, PageToken: token})
			var out []string
			for _, ev := range resp.GetEvaluations() {
				out = append(out, ev.GetName())
			}
			return out, resp.GetNextPageToken(), err
		})
		if want := []string{"evaluations/obs-b", "evaluations/obs", "evaluations/draft"}; !slices.Equal(order, want) {
			t.Errorf("by decide_time desc, a page each: %v; want %v", order, want)
		}

		// Events: created twice, decided twice, in order, with the aggregate's version.
		var got []string
		for _, m := range e.Events(t, 7) { // two vendors, three evaluations, two decisions
			if m.Headers().Get(platformevents.HeaderSubject) == "evaluations/obs" {
				got = append(got, m.Subject()+"@"+m.Headers().Get(platformevents.HeaderVersion))
			}
			if m.Subject() == e.Subject("evaluation.decided") && m.Headers().Get(platformevents.HeaderSubject) == "evaluations/obs" {
				var decided vendorsv1.EvaluationDecided
				if err := protojson.Unmarshal(m.Data(), &decided); err != nil {
					t.Fatal(err)
				}
				if decided.GetEvaluation().GetWinner() != "globex" || decided.GetVersion() != 3 || len(decided.GetEvaluation().GetRanking()) != 3 {
					t.Errorf("evaluation.decided = %v; want globex, version 3, with the ranking", &decided)
				}
			}
		}
		if want := []string{e.Subject("evaluation.created") + "@1", e.Subject("evaluation.decided") + "@3"}; !slices.Equal(got, want) {
			t.Errorf("events of evaluations/obs %v; want %v", got, want)
		}
	})
}

func TestEvaluationCancel(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startEvaluations(t, db)
		ctx := context.Background()
		ev := mustEvaluation(t, e, "obs", observability())
		// Cancelling takes vendors.write; a stale etag is ABORTED.
		_, err := e.client.CancelEvaluation(ctx, &vendorsv1.CancelEvaluationRequest{Name: ev.GetName(), Etag: `"stale"`})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		c, err := e.client.CancelEvaluation(ctx, &vendorsv1.CancelEvaluationRequest{Name: ev.GetName(), Etag: ev.GetEtag(), Reason: " Budget frozen "})
		if err != nil || c.GetState() != vendorsv1.Evaluation_CANCELLED || c.GetCancelReason() != "Budget frozen" || c.GetWinner() != "" {
			t.Fatalf("CancelEvaluation = %v, %v; want CANCELLED with its reason", c, err)
		}
		_, err = e.client.UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
			Evaluation: &vendorsv1.Evaluation{Name: ev.GetName(), Title: "Changed"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")
		_, err = e.client.DecideEvaluation(ctx, &vendorsv1.DecideEvaluationRequest{Name: ev.GetName(), Winner: "acme"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")
		_, err = e.client.DeleteEvaluation(ctx, &vendorsv1.DeleteEvaluationRequest{Name: ev.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "EVALUATION_NOT_DRAFT")
		if n := outboxCount(t, e.db, ".vendors.evaluation.cancelled"); n != 1 {
			t.Errorf("%d evaluation.cancelled events; want 1", n)
		}
	})
}
