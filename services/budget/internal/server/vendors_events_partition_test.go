package server

import (
	"testing"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
)

// Every event of a contract that budget applies is keyed by the budget of the contract's line,
// so that the contracts' consumer applies them in one partition, in stream order; the contracts
// of another budget have another key.
func TestContractPartition(t *testing.T) {
	const name, line = "vendors/v1/contracts/c1", "budgets/b1/lines/l1"
	c := &vendorsv1.Contract{Name: name, BudgetLine: line, State: vendorsv1.Contract_ACTIVE}
	evs := []consumer.Event{
		{Resource: name, Message: &vendorsv1.ContractActivated{Contract: c, BudgetLine: line}},
		{Resource: name, Message: &vendorsv1.ContractAutoRenewed{Contract: c, BudgetLine: line}},
		{Resource: name, Message: &vendorsv1.ContractTerminated{Contract: c, BudgetLine: line}},
		{Resource: name, Message: &vendorsv1.ContractUpdated{Contract: c}},
		{Resource: "vendors/v1/contracts/c2", Message: &vendorsv1.ContractSubmitted{
			Contract: &vendorsv1.Contract{Name: "vendors/v1/contracts/c2", BudgetLine: "budgets/b1/lines/l2"}}},
	}
	for _, ev := range evs {
		if got := ContractPartition(ev); got != "budgets/b1" {
			t.Errorf("key of %T = %q, want budgets/b1", ev.Message, got)
		}
	}
	other := consumer.Event{Resource: "vendors/v2/contracts/c3", Message: &vendorsv1.ContractActivated{
		Contract: &vendorsv1.Contract{Name: "vendors/v2/contracts/c3", BudgetLine: "budgets/b2/lines/l1"}}}
	if got := ContractPartition(other); got != "budgets/b2" {
		t.Errorf("key of a contract of budget b2 = %q, want budgets/b2", got)
	}
	for _, ev := range []consumer.Event{
		{Resource: name, Message: &vendorsv1.ContractCreated{Contract: &vendorsv1.Contract{Name: name}}},
		{Resource: name},
	} {
		if got := ContractPartition(ev); got != name {
			t.Errorf("key of an event without a line = %q, want its resource %q", got, name)
		}
	}
}
