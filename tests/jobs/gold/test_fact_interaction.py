"""gold.fact_interaction, gold.bridge_interaction_agent and gold.dim_agent."""

from __future__ import annotations

from .story import B1, D


def test_interactions_carry_customer_version_flags_and_agent_count(spark, gold_db):
    got = spark.sql(f"""
        SELECT f.interaction_id, f.customer_id, c.valid_from, f.date_key, f.interaction_type, f.interaction_outcome,
               f.interaction_channel, f.follow_up_required, f.follow_up_date, f.follow_up_date_key, f.is_resolved,
               f.is_follow_up_open, f.agent_count
        FROM {gold_db}.fact_interaction f LEFT JOIN {gold_db}.dim_customer c ON f.customer_sk = c.customer_sk
    """)
    assert {tuple(r) for r in got.collect()} == {
        (1, 1, B1, 20240105, "Complaint", "Resolved", "Email", False, None, None, True, False, 2),
        (2, 1, B1, 20240108, "Complaint", "Unresolved", "Phone", True, D("2024-01-07"), 20240107, False, True, 1),
        # Contact before Bo moved: his first version, not the Paris one.
        (3, 2, B1, 20240109, "Feedback", "Implemented", "Chat", False, None, None, True, False, 1),
        (4, 4, B1, 20240109, "Support Request", "Pending", "Phone", True, D("2024-01-20"), 20240120, False, True, 1),
    }


def test_bridge_weights_split_each_interaction_over_its_agents(spark, gold_db):
    got = spark.sql(f"""
        SELECT b.interaction_id, b.agent_id, b.weight, a.full_name, a.is_inferred
        FROM {gold_db}.bridge_interaction_agent b JOIN {gold_db}.dim_agent a ON b.agent_sk = a.agent_sk
    """)
    assert {tuple(r) for r in got.collect()} == {
        (1, 10, 0.5, "Al Smith", False), (1, 11, 0.5, "Bea Jones", False), (2, 10, 1.0, "Al Smith", False),
        (3, 11, 1.0, "Bea Jones", False), (4, 12, 1.0, None, True),
    }


def test_dim_agent_keeps_idle_roster_agents_and_infers_unknown_ones(spark, gold_db):
    got = spark.sql(f"SELECT agent_sk = xxhash64(agent_id), agent_id, first_name, last_name, full_name, is_inferred "
                    f"FROM {gold_db}.dim_agent")
    assert {tuple(r) for r in got.collect()} == {
        (True, 10, "Al", "Smith", "Al Smith", False), (True, 11, "Bea", "Jones", "Bea Jones", False),
        (True, 13, "Cal", "Idle", "Cal Idle", False), (True, 12, None, None, None, True),
    }
