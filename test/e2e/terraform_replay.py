"""Replays, with boto3, the AWS API calls Terraform's AWS provider (hashicorp/terraform-provider-aws,
v5) makes to apply, refresh and destroy the example module of docs/terraform.md, against a
Strongroom gateway: the same operations, in the same order, with the members the provider sets,
its waiters (N consecutive successes) and the error codes it tolerates. docs/terraform.md names
the provider source file behind each sequence.

Terraform itself cannot be installed here; this is the next best proof. The replay fails (exit 1)
on any call the provider would fail on; "plan shows no diff" is checked by reading every resource
back as the provider's Read does and comparing it with the configuration.

Usage: python3 terraform_replay.py ENDPOINT, with AWS_CA_BUNDLE, the caller's AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. Prints one JSON object: the calls each step made, and the diffs (empty).
"""
import json
import os
import sys
import urllib.parse

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
CA = os.environ["AWS_CA_BUNDLE"]
REGION = "us-east-1"

calls = []


def client(service, signed=True):
    extra = {} if signed else {"signature_version": UNSIGNED}
    c = boto3.client(
        service,
        endpoint_url=ENDPOINT,
        verify=CA,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **extra),
    )
    c.meta.events.register(
        "before-call", lambda model, **_: calls.append(f"{service}:{model.name}")
    )
    return c


sts, iam, kms, s3 = client("sts"), client("iam"), client("kms"), client("s3")
anonymous_s3 = client("s3", signed=False)


def code(e):
    return e.response.get("Error", {}).get("Code", "")


def tolerate(call, *codes, **members):
    """The call's answer, or None when it fails with one of `codes` (the provider's NotFound)."""
    try:
        return call(**members)
    except ClientError as e:
        if code(e) in codes:
            return None
        raise


def consecutive(times, call, done, **members):
    """tfresource.WaitUntil with ContinuousTargetOccurence: `done` true `times` calls in a row."""
    streak = 0
    for _ in range(times * 4):
        streak = streak + 1 if done(call(**members)) else 0
        if streak == times:
            return
    raise AssertionError(f"{call.__name__} never held {times} times in a row")


def same_policy(a, b):
    """awspolicy.PoliciesAreEquivalent, for the documents used here: equal as JSON."""
    return json.loads(a) == json.loads(b)


steps = {}
diffs = {}


def step(name, f):
    start = len(calls)
    result = f()
    steps[name] = calls[start:]
    return result


def no_diff(resource, want, got):
    d = {k: {"config": v, "read": got.get(k)} for k, v in want.items() if got.get(k) != v}
    if d:
        diffs[resource] = d


# Provider start-up: sts:GetCallerIdentity; the account is the ARN's.
ident = step("provider", lambda: sts.get_caller_identity())
ACCOUNT = ident["Arn"].split(":")[4]
assert ACCOUNT == ident["Account"], ident

DATA, MODELS = "tf-training-data", "tf-models"
ROLE, USER, READERS = "tf-training", "tf-ci", "tf-model-readers"
ALIAS = "alias/tf-team"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
KEY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersButDoesNotDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "NotAction": "kms:Decrypt",
                "Resource": "*",
            },
            {
                "Sid": "OnlyTrainingDecrypts",
                "Effect": "Allow",
                "Principal": {"AWS": ROLE_ARN},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            },
        ],
    }
)
DENY_PLAIN_HTTP = lambda bucket: json.dumps(  # noqa: E731
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
READERS_DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{MODELS}/*"}
        ],
    }
)


# ---- aws_iam_role (internal/service/iam/role.go) ----
def role_create():
    iam.create_role(
        AssumeRolePolicyDocument=TRUST, Path="/", RoleName=ROLE, MaxSessionDuration=3600,
        Description="training jobs", Tags=[{"Key": "team", "Value": "vision"}],
    )
    return role_read()


def role_read():
    r = iam.get_role(RoleName=ROLE)["Role"]
    assert r["Arn"].startswith("arn:"), r
    names = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    for n in names:
        iam.get_role_policy(RoleName=ROLE, PolicyName=n)
    iam.list_attached_role_policies(RoleName=ROLE)
    doc = r["AssumeRolePolicyDocument"]
    doc = doc if isinstance(doc, str) else json.dumps(doc)
    return {
        "arn": r["Arn"],
        "assume_role_policy": json.loads(urllib.parse.unquote(doc)),
        "description": r.get("Description"),
        "max_session_duration": r["MaxSessionDuration"],
        "path": r["Path"],
        "tags": {t["Key"]: t["Value"] for t in r.get("Tags", [])},
    }


ROLE_WANT = {
    "arn": ROLE_ARN,
    "assume_role_policy": json.loads(TRUST),
    "description": "training jobs",
    "max_session_duration": 3600,
    "path": "/",
    "tags": {"team": "vision"},
}


# ---- aws_iam_policy (internal/service/iam/policy.go) ----
def policy_create():
    p = iam.create_policy(Description="", Path="/", PolicyDocument=READERS_DOC, PolicyName=READERS)
    return policy_read(p["Policy"]["Arn"])


def policy_read(arn):
    p = iam.get_policy(PolicyArn=arn)["Policy"]
    v = iam.get_policy_version(PolicyArn=arn, VersionId=p["DefaultVersionId"])["PolicyVersion"]
    doc = v["Document"]
    doc = doc if isinstance(doc, str) else json.dumps(doc)
    return {
        "arn": p["Arn"],
        "name": p["PolicyName"],
        "path": p["Path"],
        "description": p.get("Description", ""),
        "policy": json.loads(urllib.parse.unquote(doc)),
        "attachment_count": p["AttachmentCount"],
    }


# ---- aws_iam_user and aws_iam_access_key (user.go, access_key.go) ----
def user_read():
    u = iam.get_user(UserName=USER)["User"]
    return {"arn": u["Arn"], "name": u["UserName"], "path": u["Path"]}


def access_key_read(key_id):
    keys = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
    mine = [k for k in keys if k["AccessKeyId"] == key_id]
    assert len(mine) == 1, keys
    return {"id": mine[0]["AccessKeyId"], "status": mine[0]["Status"], "user": mine[0]["UserName"]}


# ---- aws_s3_bucket (internal/service/s3/bucket.go) ----
GENERIC = ("MethodNotAllowed", "NotImplemented", "XNotImplemented")
BUCKET_READS = [
    (s3.get_bucket_policy, ("NoSuchBucketPolicy",)),
    (s3.get_bucket_acl, ()),
    (s3.get_bucket_cors, ("NoSuchCORSConfiguration",)),
    (s3.get_bucket_website, ("NoSuchWebsiteConfiguration",)),
    (s3.get_bucket_versioning, ()),
    (s3.get_bucket_accelerate_configuration, ("UnsupportedArgument", "UnsupportedOperation")),
    (s3.get_bucket_request_payment, ()),
    (s3.get_bucket_logging, ()),
    (s3.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",)),
    (s3.get_bucket_replication, ("ReplicationConfigurationNotFoundError",)),
    (s3.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError", "UnsupportedOperation")),
    (s3.get_object_lock_configuration, ("ObjectLockConfigurationNotFoundError",)),
]


def bucket_region(bucket):
    """feature/s3/manager GetBucketRegion: an unsigned HeadBucket's X-Amz-Bucket-Region, 403 or not."""
    try:
        headers = anonymous_s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    except ClientError as e:
        if code(e) in ("404", "NoSuchBucket"):
            raise
        headers = e.response["ResponseMetadata"]["HTTPHeaders"]
    return headers.get("x-amz-bucket-region")


def bucket_create(bucket, tags):
    # us-east-1: a HeadBucket that must answer 404 first.
    try:
        s3.head_bucket(Bucket=bucket)
        raise AssertionError(f"{bucket} exists before it was created")
    except ClientError as e:
        assert code(e) in ("404", "NoSuchBucket"), e
    s3.create_bucket(Bucket=bucket, ACL="private")
    s3.head_bucket(Bucket=bucket)
    if tags:
        tolerate(s3.get_bucket_tagging, "NoSuchTagSet", *GENERIC, "UnsupportedOperation", Bucket=bucket)
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
        )
    return bucket_read(bucket)


def bucket_read(bucket):
    s3.head_bucket(Bucket=bucket)
    for call, codes in BUCKET_READS:
        tolerate(call, *codes, *GENERIC, Bucket=bucket)
    region = bucket_region(bucket)
    t = tolerate(s3.get_bucket_tagging, "NoSuchTagSet", *GENERIC, "UnsupportedOperation", Bucket=bucket)
    return {
        "region": region,
        "tags": {x["Key"]: x["Value"] for x in (t or {}).get("TagSet", [])},
    }


# ---- aws_kms_key (internal/service/kms/key.go) ----
def key_create():
    k = kms.create_key(
        BypassPolicyLockoutSafetyCheck=False, KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT", Description="vision team key", Policy=KEY_POLICY,
        Tags=[{"TagKey": "team", "TagValue": "vision"}],
    )["KeyMetadata"]
    kid = k["KeyId"]
    kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=180)
    consecutive(
        5, kms.get_key_rotation_status,
        lambda r: r["KeyRotationEnabled"] and r.get("RotationPeriodInDays") == 180, KeyId=kid,
    )
    consecutive(
        5, kms.get_key_policy, lambda r: same_policy(r["Policy"], KEY_POLICY),
        KeyId=kid, PolicyName="default",
    )
    consecutive(
        5, kms.list_resource_tags,
        lambda r: r["Tags"] == [{"TagKey": "team", "TagValue": "vision"}], KeyId=kid,
    )
    return kid, key_read(kid)


def key_read(kid):
    m = kms.describe_key(KeyId=kid)["KeyMetadata"]
    if m["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
        return None
    policy = kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]
    rotation = kms.get_key_rotation_status(KeyId=kid) if m["Origin"] == "AWS_KMS" else {}
    tags = kms.list_resource_tags(KeyId=kid)["Tags"]
    return {
        "arn": m["Arn"],
        "description": m["Description"],
        "is_enabled": m["Enabled"],
        "key_usage": m["KeyUsage"],
        "customer_master_key_spec": m["KeySpec"],
        "multi_region": m["MultiRegion"],
        "policy": json.loads(policy),
        "enable_key_rotation": rotation.get("KeyRotationEnabled"),
        "rotation_period_in_days": rotation.get("RotationPeriodInDays"),
        "tags": {t["TagKey"]: t["TagValue"] for t in tags},
    }


def alias_read():
    found = []
    for page in kms.get_paginator("list_aliases").paginate():
        found += [a for a in page["Aliases"] if a["AliasName"] == ALIAS]
    assert len(found) == 1, found
    a = found[0]
    arn = a["AliasArn"]
    assert arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:{ALIAS}", arn
    # aliasARNToKeyARN: the key's ARN from the alias's ARN and TargetKeyId.
    return {"name": a["AliasName"], "target_key_arn": arn.split(":alias/")[0] + ":key/" + a["TargetKeyId"]}


# ---- apply ----
role = step("aws_iam_role.create", role_create)
no_diff("aws_iam_role", ROLE_WANT, role)

policy = step("aws_iam_policy.create", policy_create)
POLICY_ARN = policy["arn"]
no_diff("aws_iam_policy", {"name": READERS, "path": "/", "description": "", "policy": json.loads(READERS_DOC)}, policy)

step("aws_iam_user.create", lambda: (iam.create_user(Path="/", UserName=USER), user_read()))

for b, tags in ((DATA, {}), (MODELS, {"team": "vision"})):
    got = step(f"aws_s3_bucket.{b}.create", lambda: bucket_create(b, tags))
    no_diff(f"aws_s3_bucket.{b}", {"region": REGION, "tags": tags}, got)

KEY_ID, key = step("aws_kms_key.create", key_create)
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
KEY_WANT = {
    "arn": KEY_ARN, "description": "vision team key", "is_enabled": True,
    "key_usage": "ENCRYPT_DECRYPT", "customer_master_key_spec": "SYMMETRIC_DEFAULT",
    "multi_region": False, "policy": json.loads(KEY_POLICY), "enable_key_rotation": True,
    "rotation_period_in_days": 180, "tags": {"team": "vision"},
}
no_diff("aws_kms_key", KEY_WANT, key)

step("aws_kms_alias.create", lambda: (kms.create_alias(AliasName=ALIAS, TargetKeyId=KEY_ID), alias_read()))
ALIAS_WANT = {"name": ALIAS, "target_key_arn": KEY_ARN}


def versioning_create():
    s3.put_bucket_versioning(Bucket=MODELS, VersioningConfiguration={"Status": "Enabled"})
    return versioning_read()


def versioning_read():
    statuses = []
    consecutive(3, s3.get_bucket_versioning, lambda r: statuses.append(r.get("Status", "Disabled")) or True, Bucket=MODELS)
    return {"status": statuses[-1]}


step("aws_s3_bucket_versioning.create", versioning_create)

SSE = lambda: {  # noqa: E731
    "Rules": [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
            "BucketKeyEnabled": False,
        }
    ]
}


def sse_read(bucket):
    r = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    d = r["ApplyServerSideEncryptionByDefault"]
    return {"sse_algorithm": d["SSEAlgorithm"], "kms_master_key_id": d.get("KMSMasterKeyID"),
            "bucket_key_enabled": r.get("BucketKeyEnabled", False)}


SSE_WANT = {"sse_algorithm": "aws:kms", "kms_master_key_id": None, "bucket_key_enabled": False}
for b in (DATA, MODELS):
    step(f"aws_s3_bucket_server_side_encryption_configuration.{b}.create",
         lambda: (s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=SSE()),
                  s3.get_bucket_encryption(Bucket=b), sse_read(b)))

PAB = {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


def pab_read():
    r = tolerate(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=DATA)
    return None if r is None else r["PublicAccessBlockConfiguration"]


step("aws_s3_bucket_public_access_block.create",
     lambda: (s3.put_public_access_block(Bucket=DATA, PublicAccessBlockConfiguration=PAB),
              s3.get_public_access_block(Bucket=DATA), pab_read()))


def bucket_policy_read():
    r = tolerate(s3.get_bucket_policy, "NoSuchBucketPolicy", Bucket=DATA)
    return None if r is None else json.loads(r["Policy"])


step("aws_s3_bucket_policy.create",
     lambda: (s3.put_bucket_policy(Bucket=DATA, Policy=DENY_PLAIN_HTTP(DATA)),
              s3.get_bucket_policy(Bucket=DATA), bucket_policy_read()))

TRAINING_DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{DATA}/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{MODELS}/*"},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY_ARN},
        ],
    }
)


def role_policy_read():
    r = iam.get_role_policy(RoleName=ROLE, PolicyName="training")
    doc = r["PolicyDocument"]
    doc = doc if isinstance(doc, str) else json.dumps(doc)
    return json.loads(urllib.parse.unquote(doc))


step("aws_iam_role_policy.create",
     lambda: (iam.put_role_policy(RoleName=ROLE, PolicyName="training", PolicyDocument=TRAINING_DOC),
              iam.get_role_policy(RoleName=ROLE, PolicyName="training"), role_policy_read()))


def attachment_read():
    attached = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=ROLE):
        attached += [p for p in page["AttachedPolicies"] if p["PolicyArn"] == POLICY_ARN]
    return len(attached)


step("aws_iam_role_policy_attachment.create",
     lambda: (iam.attach_role_policy(PolicyArn=POLICY_ARN, RoleName=ROLE), attachment_read()))

created_key = step("aws_iam_access_key.create", lambda: iam.create_access_key(UserName=USER)["AccessKey"])
assert created_key["SecretAccessKey"], "CreateAccessKey answers the secret"
ACCESS_KEY = created_key["AccessKeyId"]

# ---- refresh: every resource read as the provider reads it; nothing differs from the config ----
refresh = {
    "aws_iam_role": (role_read, ROLE_WANT),
    "aws_iam_policy": (lambda: policy_read(POLICY_ARN),
                       {"name": READERS, "path": "/", "description": "", "policy": json.loads(READERS_DOC), "attachment_count": 1}),
    "aws_iam_user": (user_read, {"arn": f"arn:aws:iam::{ACCOUNT}:user/{USER}", "name": USER, "path": "/"}),
    "aws_iam_access_key": (lambda: access_key_read(ACCESS_KEY), {"id": ACCESS_KEY, "status": "Active", "user": USER}),
    f"aws_s3_bucket.{DATA}": (lambda: bucket_read(DATA), {"region": REGION, "tags": {}}),
    f"aws_s3_bucket.{MODELS}": (lambda: bucket_read(MODELS), {"region": REGION, "tags": {"team": "vision"}}),
    "aws_kms_key": (lambda: key_read(KEY_ID), KEY_WANT),
    "aws_kms_alias": (alias_read, ALIAS_WANT),
    "aws_s3_bucket_versioning": (versioning_read, {"status": "Enabled"}),
    f"aws_s3_bucket_server_side_encryption_configuration.{DATA}": (lambda: sse_read(DATA), {**SSE_WANT, "kms_master_key_id": KEY_ARN}),
    f"aws_s3_bucket_server_side_encryption_configuration.{MODELS}": (lambda: sse_read(MODELS), {**SSE_WANT, "kms_master_key_id": KEY_ARN}),
    "aws_s3_bucket_public_access_block": (lambda: {"pab": pab_read()}, {"pab": PAB}),
    "aws_s3_bucket_policy": (lambda: {"policy": bucket_policy_read()}, {"policy": json.loads(DENY_PLAIN_HTTP(DATA))}),
    "aws_iam_role_policy": (lambda: {"policy": role_policy_read()}, {"policy": json.loads(TRAINING_DOC)}),
    "aws_iam_role_policy_attachment": (lambda: {"attached": attachment_read()}, {"attached": 1}),
}
for name, (read, want) in refresh.items():
    no_diff(name, want, step(f"{name}.read", read))

# ---- destroy, in reverse dependency order ----
step("aws_iam_access_key.delete", lambda: iam.delete_access_key(AccessKeyId=ACCESS_KEY, UserName=USER))
step("aws_iam_role_policy_attachment.delete", lambda: iam.detach_role_policy(PolicyArn=POLICY_ARN, RoleName=ROLE))
step("aws_iam_role_policy.delete", lambda: iam.delete_role_policy(RoleName=ROLE, PolicyName="training"))


def bucket_policy_delete():
    s3.delete_bucket_policy(Bucket=DATA)
    assert bucket_policy_read() is None


step("aws_s3_bucket_policy.delete", bucket_policy_delete)


def pab_delete():
    s3.delete_public_access_block(Bucket=DATA)
    assert pab_read() is None, "GetPublicAccessBlock answers NoSuchPublicAccessBlockConfiguration"


step("aws_s3_bucket_public_access_block.delete", pab_delete)
for b in (DATA, MODELS):
    step(f"aws_s3_bucket_server_side_encryption_configuration.{b}.delete",
         lambda: tolerate(s3.delete_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", Bucket=b))
step("aws_s3_bucket_versioning.delete",
     lambda: s3.put_bucket_versioning(Bucket=MODELS, VersioningConfiguration={"Status": "Suspended"}))
step("aws_kms_alias.delete", lambda: tolerate(kms.delete_alias, "NotFoundException", AliasName=ALIAS))


def key_delete():
    kms.schedule_key_deletion(KeyId=KEY_ID, PendingWindowInDays=7)
    # waitKeyDeleted: DescribeKey until PendingDeletion (the provider's NotFound).
    assert key_read(KEY_ID) is None
    # A second destroy of the same key: "is pending deletion" counts as done.
    try:
        kms.schedule_key_deletion(KeyId=KEY_ID, PendingWindowInDays=7)
        raise AssertionError("a key pending deletion was scheduled again")
    except ClientError as e:
        assert code(e) == "KMSInvalidStateException" and "is pending deletion" in str(e), e


step("aws_kms_key.delete", key_delete)


def bucket_delete(bucket):
    s3.delete_bucket(Bucket=bucket)
    try:
        s3.head_bucket(Bucket=bucket)
        raise AssertionError(f"{bucket} still answers HeadBucket")
    except ClientError as e:
        assert code(e) in ("404", "NoSuchBucket"), e


for b in (DATA, MODELS):
    step(f"aws_s3_bucket.{b}.delete", lambda: bucket_delete(b))


def user_delete():
    iam.list_groups_for_user(UserName=USER)
    iam.delete_user(UserName=USER)


step("aws_iam_user.delete", user_delete)


def policy_delete():
    for v in iam.list_policy_versions(PolicyArn=POLICY_ARN)["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=POLICY_ARN, VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=POLICY_ARN)


step("aws_iam_policy.delete", policy_delete)


def role_delete():
    iam.list_instance_profiles_for_role(RoleName=ROLE)
    iam.delete_role(RoleName=ROLE)


step("aws_iam_role.delete", role_delete)

# After destroy, a refresh finds nothing: every read is the provider's NotFound.
gone = {
    "aws_iam_role": lambda: tolerate(iam.get_role, "NoSuchEntity", RoleName=ROLE),
    "aws_iam_user": lambda: tolerate(iam.get_user, "NoSuchEntity", UserName=USER),
    "aws_iam_policy": lambda: tolerate(iam.get_policy, "NoSuchEntity", PolicyArn=POLICY_ARN),
    "aws_kms_key": lambda: key_read(KEY_ID),
}
left = [name for name, read in gone.items() if read() is not None]

json.dump({"steps": steps, "diffs": diffs, "left": left}, sys.stdout)
