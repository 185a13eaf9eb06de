"""Lists every integration from the fake Service API through CrowdSec's official Python SDK (crowdsec-service-api).

The SDK validates each answer with pydantic models generated from the published OpenAPI spec, so a fake that drifts
from the real shape makes this script fail (non-zero exit). Usage:

    FAKE_SERVICE_API_KEY=k python3 list_integrations.py http://127.0.0.1:PORT/v1 EXPECTED_COUNT
"""

import os
import sys

import httpx
from crowdsec_service_api import ApiKeyAuth, Info, Integrations

MAX_PAGES = 1000


def fail(message):
    print(f"SDK check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def by_page_number(client, size, tag=None):
    """page=1, 2, ... until links.next is null, as the exporter does."""
    items, page = [], 1
    while True:
        answer = client.get_integrations(page=page, size=size, tag=tag)
        items.extend(answer.items)
        if answer.links.next is None:
            return items
        page += 1
        if page > MAX_PAGES:
            fail("links.next never becomes null")


def by_links(client, size):
    """The SDK's own paging: .next() follows links.next (a host-relative path)."""
    items, answer, pages = [], client.get_integrations(page=1, size=size), 0
    while answer is not None:
        items.extend(answer.items)
        pages += 1
        if pages > MAX_PAGES:
            fail("links.next loops")
        answer = answer.next()
    return items


def main():
    if len(sys.argv) != 3:
        fail("usage: list_integrations.py BASE_URL EXPECTED_COUNT")
    base_url, expected = sys.argv[1], int(sys.argv[2])
    auth = ApiKeyAuth(api_key=os.environ["FAKE_SERVICE_API_KEY"])
    client = Integrations(auth=auth, base_url=base_url)

    listed = by_page_number(client, 100)
    ids = [i.id for i in listed]
    if len(ids) != expected or len(set(ids)) != expected:
        fail(f"got {len(ids)} integrations ({len(set(ids))} distinct), expected {expected}")
    for size in (1, 37):
        other = [i.id for i in by_links(client, size)]
        if other != ids:
            fail(f"paging by links with size {size} gave {len(other)} integrations, not the same list")

    if expected >= 10:
        types = {i.entity_type.value for i in listed}
        if types != {"firewall_integration", "remediation_component_integration"}:
            fail(f"entity types {types}")
        never = [i for i in listed if i.last_pull is None]
        pulled = [i for i in listed if i.last_pull is not None]
        if not never or not pulled:
            fail("expected both never-pulled and pulled integrations")
        if not any(i.last_pull.tzinfo is None for i in pulled) or not any(
            i.last_pull.tzinfo is not None for i in pulled
        ):
            fail("expected naive and offset last_pull timestamps")
        if not any(i.stats.count == 0 for i in listed):
            fail("expected an integration pulling zero IPs")
        tagged = by_page_number(client, 100, tag=["prod"])
        if not tagged or any("prod" not in i.tags for i in tagged):
            fail(f"tag filter returned {len(tagged)} integrations, not all tagged prod")

    info = Info(auth=auth, base_url=base_url).get_info()
    if not info.organization_id:
        fail("GET /info")

    try:
        Integrations(auth=ApiKeyAuth(api_key="wrong"), base_url=base_url).get_integrations(page=1, size=100)
        fail("a wrong key was accepted")
    except httpx.HTTPStatusError as e:
        if e.response.status_code != 401:
            fail(f"a wrong key got {e.response.status_code}, not 401")
    # The SDK refuses size > 100 itself; the API answers 422 to a client that does not.
    raw = httpx.get(f"{base_url}/integrations", params={"page": 1, "size": 101},
                    headers={"x-api-key": os.environ["FAKE_SERVICE_API_KEY"]})
    if raw.status_code != 422 or "detail" not in raw.json():
        fail(f"size 101 got {raw.status_code}, not 422 with a detail")

    print(f"SDK check passed: {len(ids)} integrations listed through crowdsec-service-api from {base_url}")


if __name__ == "__main__":
    main()
