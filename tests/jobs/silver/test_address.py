"""silver.address: a customer who moved shows both addresses with their periods and one current one."""

from __future__ import annotations

from jobs.silver import address

ADDRESS = "bronze.crm_the_address"


def test_a_move_in_a_later_batch_closes_the_old_address(lake):
    lake.bronze(ADDRESS, [dict(country="Egypt", government=" Giza ", city="Giza", customer_id="1"),
                          dict(country="France", government="Bretagne", city="Rennes", customer_id="2")],
                batch="2025-01-01")
    lake.run(address)
    lake.bronze(ADDRESS, [dict(country="Canada", government="Ontario", city="Toronto", customer_id="1"),
                          dict(country="France", government="Bretagne", city="Rennes", customer_id="2")],
                batch="2025-01-02")
    result = lake.run(address)
    assert lake.rows("silver.address", "customer_id", "city", "state_province", "valid_from", "valid_to",
                     "is_current", "_run_id") == [
        (1, "Giza", "Giza", "2025-01-01", "2025-01-02", False, "run2"),
        (1, "Toronto", "Ontario", "2025-01-02", None, True, "run2"),
        (2, "Rennes", "Bretagne", "2025-01-01", None, True, "run1")]
    assert lake.rows("ops.conservation", "batch", "bronze_rows", "accepted", "duplicates", "balanced") == [
        ("2025-01-01", 2, 2, 0, True), ("2025-01-02", 2, 1, 1, True)]
    assert (result.rows_read, result.rows_written) == (2, 2)
    # Closing Giza updates a row silver holds: a MERGE, not an append.
    assert lake.spark.sql(f"DESCRIBE HISTORY {lake.name('silver.address')} LIMIT 1").first().operation == "MERGE"
