"""gold.dim_customer: one SCD2 timeline over profile, addresses and phones, with deterministic keys."""

from __future__ import annotations

from jobs.gold.dim_customer import customer_versions
from lakedb.silver import ADDRESS, CUSTOMER, CUSTOMER_PHONE

from .story import B1, B2, D

COLUMNS = ("customer_id", "first_name", "last_name", "gender", "date_of_birth", "birth_year", "email", "username",
           "phone", "phone_count", "country", "state_province", "city", "address_count", "valid_from", "valid_to",
           "is_current")


def test_versions_after_a_move_with_main_address_and_phone(spark, gold_db):
    got = spark.table(f"{gold_db}.dim_customer")
    rows = {tuple(r) for r in got.select(*COLUMNS).collect()}
    assert rows == {
        # Two addresses and two phones delivered together: main = smallest place, smallest number.
        (1, "Ann", "Lee", "F", D("1990-05-01"), 1990, "ann@x.com", "ann", "5550000001", 2,
         "US", "CA", "Los Angeles", 2, B1, None, True),
        (2, "Bo", "Ng", "M", D("1985-07-07"), 1985, "bo@x.com", "bo", "5550000003", 1,
         "UK", "England", "London", 1, B1, B2, False),
        (2, "Bo", "Ng", "M", D("1985-07-07"), 1985, "bo@x.com", "bo", "5550000003", 1,
         "FR", "Ile-de-France", "Paris", 1, B2, None, True),
        (3, "Cy", "Fox", None, None, None, None, "cy", None, 0, None, None, None, 0, B1, None, True),
        (4, "Di", "Roe", "F", D("1990-01-01"), 1990, "di@x.com", "di", "5550000004", 1,
         "US", "NY", "New York", 1, B1, None, True),
    }


def test_surrogate_keys_are_the_documented_hashes_and_geography_matches(spark, gold_db):
    keys = spark.sql(f"""
        SELECT count(*) AS n,
               count_if(c.customer_sk = xxhash64(c.customer_id, c.valid_from)) AS sk_ok,
               count_if(c.geography_sk IS NULL OR (g.country, g.state_province, g.city)
                        = (c.country, c.state_province, c.city)) AS geo_ok
        FROM {gold_db}.dim_customer c LEFT JOIN {gold_db}.dim_geography g ON c.geography_sk = g.geography_sk
    """).first()
    assert tuple(keys) == (5, 5, 5)


def _silver(spark, table, rows):
    filled = [tuple(r.get(c) for c in table.column_names) for r in rows]
    return spark.createDataFrame(filled, table.spark_schema())


def test_unchanged_versions_fold_and_late_customers_take_their_earlier_address(spark):
    b3, b4 = D("2024-03-01"), D("2024-04-01")
    customers = _silver(spark, CUSTOMER, [
        {"customer_id": 9, "first_name": "Ed", "valid_from": B1, "valid_to": B2, "is_current": False},
        {"customer_id": 9, "first_name": "Eddie", "valid_from": B2, "is_current": True},
        {"customer_id": 8, "first_name": "Flo", "valid_from": B2, "is_current": True},  # arrived a batch late
    ])
    addresses = _silver(spark, ADDRESS, [
        # Re-delivered unchanged on b3: a change point that changes nothing visible.
        {"customer_id": 9, "country": "US", "state_province": "NY", "city": "Albany", "valid_from": B1,
         "valid_to": b3, "is_current": False},
        {"customer_id": 9, "country": "US", "state_province": "NY", "city": "Albany", "valid_from": b3,
         "is_current": True},
        {"customer_id": 8, "country": "UK", "state_province": "Wales", "city": "Cardiff", "valid_from": B1,
         "is_current": True},
    ])
    phones = _silver(spark, CUSTOMER_PHONE, [
        {"customer_id": 9, "phone": "5551112222", "valid_from": b4, "is_current": True},
    ])
    got = customer_versions(customers, addresses, phones).select(
        "customer_id", "first_name", "phone", "city", "valid_from", "valid_to", "is_current")
    assert {tuple(r) for r in got.collect()} == {
        (9, "Ed", None, "Albany", B1, B2, False),
        (9, "Eddie", None, "Albany", B2, b4, False),
        (9, "Eddie", "5551112222", "Albany", b4, None, True),
        (8, "Flo", None, "Cardiff", B2, None, True),
    }
